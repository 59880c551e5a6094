"""Kernel speed: softmaxkit's fused numba kernels against NumPy, SciPy, PyTorch CPU and the memory floor.

For each operation (softmax, log_softmax, logsumexp, cross-entropy, cross-entropy forward + gradient),
dtype and shape, every method runs in the same process, interleaved in rotating order (a, b, c, b, c,
a, c, a, b, ...) after a warm-up call each, and the median time is reported:

- ``numpy``: the naive NumPy formula (max-shifted, temporaries allocated),
- ``scipy``: ``scipy.special.softmax`` / ``log_softmax`` / ``logsumexp`` (where it has one),
- ``torch`` / ``torch out=``: PyTorch CPU with ``torch.set_num_threads`` equal to numba's thread count,
- ``skm`` / ``skm out=``: softmaxkit allocating its result / writing into a preallocated ``out=``,
- ``floor``: the memory floor, ``np.copyto`` of the same bytes into a preallocated array. For the
  reductions (logsumexp, cross-entropy forward), which read the logits and write almost nothing,
  the floor is half a copy of the logits (reading them once).

The class axis is axis 1 everywhere (``dim=1`` for PyTorch): the last axis of the 2-d shapes, and the
middle axis of the 3-d shape ``(32, 81, 8732)`` (a detector head: batch, classes, boxes; the shape of
PyTorch's own kernel for a softmax over a non-last dimension), where softmaxkit runs its column mode
without a transposed copy. The cross-entropy operations run on the 2-d shapes only.

GB/s counts bytes read plus bytes written by the operation itself (logits in, result out).
``torch._softmax(..., out=)`` / ``torch._log_softmax(..., out=)`` are the ATen out= variants.
``OMP_WAIT_POLICY`` defaults to ``PASSIVE`` here (see the comment below the imports).

    python benchmarks/bench_kernels.py                   # all shapes, float32 and float64
    python benchmarks/bench_kernels.py --quick           # fewer shapes and repeats
    python benchmarks/bench_kernels.py --dtype float32 --markdown
    python benchmarks/bench_kernels.py --stat min         # minimum instead of median (noisy machine)
    python benchmarks/bench_kernels.py --shapes 8192x10   # only the given shapes
    python benchmarks/bench_kernels.py --shapes 32x81x8732 --ops softmax log_softmax logsumexp
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import time

# numba and torch each bring an OpenMP runtime with its own thread pool. By default idle OpenMP
# threads spin for a while after each parallel region, so with both pools in one process on a few
# cores every call of one library competes with the other's spinning threads (timings jump by whole
# scheduler slices). Passive waiting, set before either runtime starts, keeps the comparison fair.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
from machine import cpu_model

import softmaxkit as skm

SHAPES = [(8192, 10), (4096, 1000), (256, 32000), (64, 262144), (16384, 4096), (32, 81, 8732)]
QUICK_SHAPES = [(4096, 1000), (256, 32000), (64, 262144), (32, 81, 8732)]
OPS = ["softmax", "log_softmax", "logsumexp", "cross_entropy", "ce_fwd_grad"]
REDUCTIONS = {"logsumexp", "cross_entropy"}
#: Operations of class-axis-last matrices only (labels per row).
ROW_OPS = {"cross_entropy", "ce_fwd_grad"}
#: The class axis of every shape (the last axis of a matrix).
AXIS = 1


def optional(name):
    try:
        return __import__(name)
    except Exception:
        return None


def numpy_methods(op, z, labels):
    """The naive NumPy formulas."""

    def softmax():
        e = np.exp(z - z.max(axis=AXIS, keepdims=True))
        return e / e.sum(axis=AXIS, keepdims=True)

    def log_softmax():
        d = z - z.max(axis=AXIS, keepdims=True)
        return d - np.log(np.exp(d).sum(axis=AXIS, keepdims=True))

    def logsumexp():
        m = z.max(axis=AXIS, keepdims=True)
        return np.squeeze(m + np.log(np.exp(z - m).sum(axis=AXIS, keepdims=True)), axis=AXIS)

    rows = np.arange(z.shape[0])

    def cross_entropy():
        return np.mean(logsumexp() - z[rows, labels])

    def ce_fwd_grad():
        p = softmax()
        loss = -np.mean(np.log(p[rows, labels]))
        p[rows, labels] -= 1
        p /= z.shape[0]
        return loss, p

    return {"numpy": locals()[op]}


def scipy_methods(op, z):
    special = optional("scipy.special")
    if special is None:
        return {}
    import scipy.special as sp

    funcs = {
        "softmax": lambda: sp.softmax(z, axis=AXIS),
        "log_softmax": lambda: sp.log_softmax(z, axis=AXIS),
        "logsumexp": lambda: sp.logsumexp(z, axis=AXIS),
    }
    return {"scipy": funcs[op]} if op in funcs else {}


def torch_methods(op, z, labels):
    torch = optional("torch")
    if torch is None:
        return {}
    import torch.nn.functional as F

    t = torch.from_numpy(z)
    lab = torch.from_numpy(labels)
    out = torch.empty_like(t)
    out_rows = torch.empty(reduced_shape(z), dtype=t.dtype)

    def ce_fwd_grad():
        x = t.detach().requires_grad_()
        loss = F.cross_entropy(x, lab)
        (g,) = torch.autograd.grad(loss, x)
        return loss, g

    alloc = {
        "softmax": lambda: torch.softmax(t, AXIS),
        "log_softmax": lambda: torch.log_softmax(t, AXIS),
        "logsumexp": lambda: torch.logsumexp(t, AXIS),
        "cross_entropy": lambda: F.cross_entropy(t, lab),
        "ce_fwd_grad": ce_fwd_grad,
    }
    into = {
        "softmax": lambda: torch._softmax(t, AXIS, False, out=out),
        "log_softmax": lambda: torch._log_softmax(t, AXIS, False, out=out),
        "logsumexp": lambda: torch.logsumexp(t, AXIS, out=out_rows),
    }
    methods = {"torch": alloc[op]}
    if op in into:
        methods["torch out="] = into[op]
    return methods


def skm_methods(op, z, labels):
    out = np.empty_like(z)
    out_rows = np.empty(reduced_shape(z), z.dtype)
    alloc = {
        "softmax": lambda: skm.softmax(z, axis=AXIS),
        "log_softmax": lambda: skm.log_softmax(z, axis=AXIS),
        "logsumexp": lambda: skm.logsumexp(z, axis=AXIS),
        "cross_entropy": lambda: skm.cross_entropy(z, labels),
        "ce_fwd_grad": lambda: skm.cross_entropy_and_grad(z, labels),
    }
    into = {
        "softmax": lambda: skm.softmax(z, axis=AXIS, out=out),
        "log_softmax": lambda: skm.log_softmax(z, axis=AXIS, out=out),
        "logsumexp": lambda: skm.logsumexp(z, axis=AXIS, out=out_rows),
    }
    methods = {"skm": alloc[op]}
    if op in into:
        methods["skm out="] = into[op]
    return methods


def reduced_shape(z):
    """Shape of a reduction of ``z`` over the class axis."""
    return z.shape[:AXIS] + z.shape[AXIS + 1 :]


def floor_method(op, z):
    """np.copyto of the bytes the operation must move (half a copy for the reductions)."""
    if op in REDUCTIONS:
        half = z.reshape(-1)[: z.size // 2]
        dst = np.empty_like(half)
        return {"floor": lambda: np.copyto(dst, half)}
    dst = np.empty_like(z)
    return {"floor": lambda: np.copyto(dst, z)}


def time_interleaved(methods, repeats, budget_s):
    """Seconds per method and round: one warm-up call each, then rounds of one call per method, the
    order rotated by one each round."""
    times = {name: [] for name in methods}
    start = time.perf_counter()
    for fn in methods.values():
        fn()
    names = list(methods)
    for r in range(repeats):
        # Rotate the order each round: a call right after another library's multi-threaded call
        # pays for its threads (wake-up, cache), and no method should always be the one that pays.
        for name in names[r % len(names) :] + names[: r % len(names)]:
            fn = methods[name]
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
        if r >= 2 and time.perf_counter() - start > budget_s:
            break
    return times


def moved_bytes(op, z):
    if op in REDUCTIONS:
        return z.nbytes
    return 2 * z.nbytes


COLUMNS = ["numpy", "scipy", "torch", "torch out=", "skm", "skm out=", "floor"]


def run(shapes, dtypes, ops, repeats, budget_s, stat=statistics.median):
    rng = np.random.default_rng(0)
    results = []
    for dtype in dtypes:
        for shape in shapes:
            z = (rng.standard_normal(shape) * 3).astype(dtype)
            labels = rng.integers(0, shape[1], shape[0])
            for op in ops:
                if op in ROW_OPS and z.ndim != 2:
                    continue
                methods = {}
                methods.update(numpy_methods(op, z, labels))
                methods.update(scipy_methods(op, z))
                methods.update(torch_methods(op, z, labels))
                methods.update(skm_methods(op, z, labels))
                methods.update(floor_method(op, z))
                rounds = time_interleaved(methods, repeats, budget_s)
                results.append(
                    {
                        "op": op,
                        "dtype": np.dtype(dtype).name,
                        "shape": shape,
                        "ms": {name: stat(ts) for name, ts in rounds.items()},
                        "rounds": rounds,
                        "bytes": moved_bytes(op, z),
                    }
                )
    return results


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b is not None else "-"


def ratio_range(rounds, a, b):
    """Smallest and largest per-round ratio ``a / b`` (the rounds interleave the two): the spread."""
    if a not in rounds or b not in rounds:
        return "-"
    ratios = [x / y for x, y in zip(rounds[a], rounds[b])]
    return f"{min(ratios):.2f}-{max(ratios):.2f}"


def rows_of(results):
    header = (
        ["op", "dtype", "shape"]
        + [f"{c} ms" for c in COLUMNS]
        + ["skm GB/s", "skm/torch", "skm/torch range", "skm out=/torch out=", "skm/floor"]
    )
    lines = []
    for r in results:
        ms = r["ms"]
        get = ms.get
        best = get("skm out=") or get("skm")
        cells = [r["op"], r["dtype"], "x".join(map(str, r["shape"]))]
        cells += [f"{ms[c] * 1e3:.3g}" if c in ms else "-" for c in COLUMNS]
        cells += [
            f"{r['bytes'] / best / 1e9:.1f}",
            ratio(get("skm"), get("torch")),
            ratio_range(r["rounds"], "skm", "torch"),
            ratio(get("skm out="), get("torch out=")),
            ratio(best, get("floor")),
        ]
        lines.append(cells)
    return header, lines


def print_table(results, markdown: bool):
    if not results:
        print("(no case: the cross-entropy operations run on 2-d shapes only)")
        return
    header, lines = rows_of(results)
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" if i < 3 else "---:" for i in range(len(header))) + "|")
        for cells in lines:
            print("| " + " | ".join(cells) + " |")
        return
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for cells in lines:
        print("  ".join(c.rjust(w) for c, w in zip(cells, widths)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer shapes and repeats")
    parser.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    parser.add_argument("--ops", nargs="+", choices=OPS, default=OPS)
    parser.add_argument(
        "--shapes",
        nargs="+",
        default=None,
        metavar="RxN",
        help="shapes to run, class axis 1, e.g. --shapes 8192x10 4096x1000 32x81x8732",
    )
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per case (default 7, quick 3)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table (for the README)")
    parser.add_argument(
        "--stat", choices=["median", "min"], default="median", help="statistic of the rounds (min on a noisy machine)"
    )
    args = parser.parse_args(argv)

    import numba

    threads = numba.get_num_threads()
    torch = optional("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    shapes = QUICK_SHAPES if args.quick else SHAPES
    if args.shapes:
        shapes = [tuple(int(v) for v in s.lower().split("x")) for s in args.shapes]
    repeats = args.repeats or (3 if args.quick else 7)
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    # Compile (or load from the on-disk cache) before timing anything.
    for dtype in dtypes:
        z = np.ones((64, 1024), dtype)
        skm.softmax(z), skm.log_softmax(z), skm.logsumexp(z), skm.cross_entropy_and_grad(z, np.zeros(64, int))
        skm.cross_entropy(z, np.zeros(64, int))
    stat = statistics.median if args.stat == "median" else min
    load_before = os.getloadavg()
    results = run(shapes, dtypes, args.ops, repeats, budget_s=4.0 if args.quick else 10.0, stat=stat)
    versions = f"numpy {np.__version__}, numba {numba.__version__}"
    if torch is not None:
        versions += f", torch {torch.__version__}"
    print(
        f"{cpu_model()}, {threads} threads (numba and torch), OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}; {versions}; "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; {args.stat} of {repeats} interleaved runs; "
        f"load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after (time only on a quiet machine)"
    )
    print_table(results, args.markdown)
    print()
    print(
        "floor: np.copyto of the bytes the operation moves (half a copy of the logits for logsumexp and "
        "cross_entropy, which only read them); ratios < 1 mean softmaxkit is faster; 'range' is the smallest and "
        "largest ratio over the interleaved rounds."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
