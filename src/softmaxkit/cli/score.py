"""``softmaxkit score``: probabilities of inputs too large for memory, block by block into a Zarr group, resumable.

The work is :func:`softmaxkit.scoring.score_to_zarr`; this module reads the flags, loads the model
and says what was done.
"""

from __future__ import annotations

import sys

from ._argtypes import positive_int
from ._common import CLIError, load_model

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser(
        "score",
        help="probabilities of a large .npy, Zarr array or folder of .npy files, written to Zarr (resumable)",
        description="Score INPUT block by block without reading it whole (Dask) and write probabilities and "
        "predicted labels to the Zarr group OUT. An interrupted run resumes where it stopped when rerun.",
    )
    p.add_argument("model")
    p.add_argument(
        "input", metavar="INPUT", help="a .npy file, a Zarr array (or a group holding one), or a folder of .npy files"
    )
    p.add_argument("--out", required=True, metavar="OUT.zarr", help="the Zarr group to write (or to resume)")
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="a Dask scheduler (tcp://host:8786) whose workers see INPUT and OUT (default: threads of this process)",
    )
    p.add_argument(
        "--chunk-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="rows per block (default: about 32 MiB of input, a multiple of a Zarr input's chunks)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an OUT that holds scores of another model, input or chunk size (scores of the same work "
        "are resumed, never redone: delete OUT to start again)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import scoring

    model = load_model(args.model)
    try:
        inputs = scoring.open_inputs(args.input, model.input_shape, chunk_rows=args.chunk_size)
    except ImportError as exc:
        raise CLIError(str(exc)) from None
    calibrator = getattr(model, "calibrator", None)
    attributes = {
        "model": str(args.model),
        "class_names": [str(c) for c in model.class_names] if model.class_names else None,
        "calibration": calibrator.to_dict() if calibrator is not None else None,
    }
    try:
        with scoring.connect(args.scheduler) as client:
            result = scoring.score_to_zarr(
                model, inputs, args.out, overwrite=args.overwrite, progress=not args.no_progress, client=client,
                attributes=attributes,
            )  # fmt: skip
    except ImportError as exc:
        raise CLIError(str(exc)) from None
    except KeyboardInterrupt:
        kept = scoring.finished_blocks(args.out)
        if kept is not None:
            print(
                f"softmaxkit score: {kept[0]} of {kept[1]} blocks are saved in {args.out}; "
                "rerun the same command to score the rest",
                file=sys.stderr,
            )
        raise
    skipped = f", {result.done_before} of them done by an earlier run" if result.done_before else ""
    print(
        f"scored {result.n} inputs in {result.n_blocks} blocks of {result.chunk_rows} rows{skipped} "
        f"({'calibration: ' + model.method if calibrator is not None else 'uncalibrated'})"
    )
    print(
        f"probabilities ({result.n}, {result.n_classes}) float32 and labels ({result.n},) int64 saved to {result.out}"
    )
    return 0
