"""``softmaxkit export``: write a model file as an ONNX graph, its calibration folded in (needs softmaxkit[onnx])."""

from __future__ import annotations

import os
from pathlib import Path

from ._argtypes import positive_int
from ._common import CLIError, load_model, output_file

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser("export", help="write the model as an ONNX file (needs softmaxkit[onnx])")
    p.add_argument("model")
    p.add_argument("--out", required=True, metavar="FILE.onnx", help="the ONNX file to write")
    p.add_argument("--opset", type=positive_int, default=None, metavar="N", help="ONNX opset, 13 or later (default 17)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..export import export_onnx

    out = output_file(args.out, "--out")
    if _same_file(out, args.model):
        raise CLIError(f"--out {out}: is the model file itself; give another name such as {out.with_suffix('.onnx')}")
    model = load_model(args.model)
    try:
        proto = export_onnx(model, out, opset=args.opset)
    except ImportError as exc:
        if exc.name != "onnx":
            raise
        raise CLIError(str(exc)) from None
    props = {prop.key: prop.value for prop in proto.metadata_props}
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    print(f"wrote {out} (ONNX opset {opset}, calibration: {props.get('calibration', 'none')})")
    for kind, values in (("input", proto.graph.input), ("output", proto.graph.output)):
        for value in values:
            print(f"  {kind:<6} {value.name:<13} {_describe(value)}")
    return 0


def _same_file(out: Path, model) -> bool:
    try:
        return os.path.samefile(out, model)
    except OSError:  # either does not exist (yet)
        return False


def _describe(value) -> str:
    """``float32 [N, 1, 28, 28]`` for an ONNX value: element type and shape (symbolic dimensions by name)."""
    from onnx.helper import tensor_dtype_to_np_dtype

    tensor = value.type.tensor_type
    dims = ", ".join(d.dim_param or str(d.dim_value) for d in tensor.shape.dim)
    return f"{tensor_dtype_to_np_dtype(tensor.elem_type)} [{dims}]"
