"""``softmaxkit report``: every plot and a one-page HTML summary of a model."""

from __future__ import annotations

from pathlib import Path

from ._common import check_input_shape, load_model, output_dir
from ._sources import evaluation_data

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser("report", help="write every plot and a one-page HTML summary for a model")
    p.add_argument("model")
    p.add_argument("--data", default=None, help="data set (default: the one the model was trained on)")
    p.add_argument("--root", default=None)
    p.add_argument("--out", required=True, help="directory to write the report into")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..report import write_report

    out = output_dir(args.out, "--out")
    model = load_model(args.model)
    data = evaluation_data(args, model)
    name = data.name
    check_input_shape(model, data, name)
    written = write_report(model, data, out, title=Path(args.model).name)
    print(f"report written to {written.index} ({len(written.figures)} figures, images embedded and beside it)")
    return 0
