"""Fused linear + cross-entropy head: softmaxkit's blocked forward + backward against PyTorch's materialised one.

For each case ``N x D x V`` (rows, features, classes; float32) both compute the mean cross-entropy of
the logits ``x @ W.T + b`` against random labels and its gradients with respect to ``x``, ``W`` and
``b``:

- ``softmaxkit``: :func:`softmaxkit.linear_cross_entropy_and_grad` (blocks of rows, never the logits;
  ``--chunk-size`` rows per block, default :func:`softmaxkit.linear_head.default_chunk_size`),
- ``torch``: ``F.cross_entropy(F.linear(x, W, b), t)`` then ``loss.backward()`` with ``x``, ``W`` and ``b``
  requiring grad (``F.linear`` is one ``addmm``, the cheapest materialised form of ``x @ W.T + b``).

Every measurement runs in a fresh process (``--repeats`` processes per library and case, the two
libraries interleaved), with the same thread count for BLAS, numba and PyTorch (``--threads``). A
child builds the inputs from a fixed seed, warms up on a small problem of the same width (imports,
compilation), then times one full call. Reported per case:

- time: the minimum over the repeats and the spread (min-max), and GFLOP/s of the ``6 N D V`` flops
  of the three matrix products,
- peak extra memory: the rise of the process's peak resident set size during the call over its
  resident size just before (Linux: the peak ``VmHWM`` is reset after the inputs and the warm-up
  through ``/proc/self/clear_refs``; elsewhere ``ru_maxrss``, which imports may hide); it includes the gradients (``N x D`` and ``V x D``),
  which both libraries allocate. For softmaxkit also the peak of NumPy's traced allocations
  (``tracemalloc``), which is the block buffer plus the gradients,
- the logits' size ``N * V * 4`` bytes, and softmaxkit's peak extra memory as a fraction of it (in
  parentheses: less the gradients, ``4 (N D + V D + V)`` bytes, which are outputs of any method),
- ``out of memory`` where a library cannot finish: an allocation error, or a child killed. Each child's
  address space is capped (``--limit-gb``, by default 90% of the memory available at the start) so
  that running out gives an error instead of waking the kernel's OOM killer.

The two losses are compared (relative difference) as a check that both computed the same thing.

    python benchmarks/bench_linear_head.py                                   # the full grid (about 50 TFLOP: hours on 2 cores)
    python benchmarks/bench_linear_head.py --cases 4096x512x32768 --repeats 3
    python benchmarks/bench_linear_head.py --cases 1024x256x8192 --repeats 1 --markdown   # a quick smoke run
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import resource
import subprocess
import sys
import time

from machine import cpu_model

GRID = [(n, d, v) for n, d, v in itertools.product((4096, 16384), (512, 2048), (32768, 131072))]
METHODS = ("softmaxkit", "torch")
WARMUP_ROWS = 256


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def parse_case(text: str) -> tuple[int, int, int]:
    try:
        n, d, v = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a case is NxDxV (rows x features x classes), got {text!r}") from None
    if min(n, d, v) < 1:
        raise argparse.ArgumentTypeError(f"every size must be positive, got {text!r}")
    return n, d, v


def human(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(nbytes) < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit in ("B", "KiB") else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"  # pragma: no cover


# --------------------------------------------------------------------------------------------------
# the child: one measurement


def _status_bytes(key: str) -> int | None:
    """A ``/proc/self/status`` size (``VmRSS``, ``VmHWM``) in bytes, or None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def _reset_peak() -> int:
    """Reset the peak RSS to the current RSS (Linux: ``/proc/self/clear_refs``); return the baseline.

    Imports and numba's compilation raise the peak far above what the process holds afterwards, so
    without a reset the call's own peak would hide below it. Elsewhere, the peak so far.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_bytes("VmRSS")
    except OSError:
        return _peak_bytes()


def _peak_bytes() -> int:
    """The process's peak RSS: ``VmHWM`` (which :func:`_reset_peak` resets), else ``ru_maxrss``."""
    hwm = _status_bytes("VmHWM")
    if hwm is not None:
        return hwm
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # kilobytes on Linux


def _inputs(n, d, v, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d), dtype=np.float32)
    w = rng.standard_normal((v, d), dtype=np.float32)
    w *= np.float32(1.0 / np.sqrt(d))  # logits of order 1, as in a trained head
    b = rng.standard_normal(v, dtype=np.float32)
    t = rng.integers(0, v, n)
    return x, w, b, t


def _ours(x, w, b, t, chunk_size):
    from softmaxkit import linear_cross_entropy_and_grad

    loss, *_ = linear_cross_entropy_and_grad(x, w, t, bias=b, chunk_size=chunk_size)
    return float(loss)


def _torch_call(torch):
    import torch.nn.functional as F

    def call(x, w, b, t, chunk_size):
        xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
        loss = F.cross_entropy(F.linear(xt, wt, bt), torch.from_numpy(t))
        loss.backward()
        return float(loss)

    return call


def one(method: str, case, threads: int, chunk_size, limit_bytes) -> dict:
    """Time one call of ``method`` on ``case`` in this (fresh) process; the result as a dict."""
    if limit_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    if method == "torch":
        import torch

        torch.set_num_threads(threads)
        call = _torch_call(torch)
    else:
        call = _ours
    n, d, v = case
    result = {"method": method, "case": list(case)}
    try:
        call(*_inputs(min(n, WARMUP_ROWS), d, min(v, 4096), seed=1), chunk_size)  # imports, compilation
        x, w, b, t = _inputs(n, d, v)
        base = _reset_peak()
        traced = None
        if method == "softmaxkit":
            import tracemalloc

            tracemalloc.start()
        start = time.perf_counter()
        loss = call(x, w, b, t, chunk_size)
        seconds = time.perf_counter() - start
        if method == "softmaxkit":
            traced = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        result.update(seconds=seconds, peak_extra=_peak_bytes() - base, traced_peak=traced, loss=loss)
    except (MemoryError, RuntimeError) as exc:
        if isinstance(exc, RuntimeError) and "memory" not in str(exc).lower() and "alloc" not in str(exc).lower():
            raise
        result["error"] = "out of memory"
    return result


def run_child(method, case, args, limit_bytes) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--_one", method, "x".join(map(str, case))]
    command += ["--threads", str(args.threads), "--limit-gb", str(limit_bytes / 2**30 if limit_bytes else 0)]
    if args.chunk_size:
        command += ["--chunk-size", str(args.chunk_size)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "NUMBA_NUM_THREADS": str(args.threads)}
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        killed = proc.returncode < 0 or proc.returncode == 137
        tail = (proc.stderr.strip().splitlines() or [""])[-1]
        return {
            "method": method,
            "case": list(case),
            "error": "out of memory (killed)" if killed else f"failed: {tail}",
        }
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------------
# the parent: the table


def summarise(case, runs: dict) -> dict:
    n, d, v = case
    row = {"case": case, "logits": n * v * 4, "flops": 6 * n * d * v}
    for method, results in runs.items():
        ok = [r for r in results if "error" not in r]
        if not ok:
            row[method] = {"error": results[0]["error"] if results else "not run"}
            continue
        times = [r["seconds"] for r in ok]
        row[method] = {
            "min": min(times),
            "max": max(times),
            "peak_extra": max(r["peak_extra"] for r in ok),
            "traced_peak": max((r["traced_peak"] or 0) for r in ok) or None,
            "loss": ok[0]["loss"],
            "failed": len(results) - len(ok),
        }
    return row


def timing(m: dict, flops: int) -> tuple[str, str]:
    """The time cell (min, and min-max over the repeats) and the GFLOP/s cell of one library."""
    if not m:
        return "-", "-"
    if "error" in m:
        return m["error"], "-"
    return f"{m['min']:.2f} ({m['min']:.2f}-{m['max']:.2f})", f"{flops / m['min'] / 1e9:.0f}"


def table(rows, markdown: bool) -> str:
    header = [
        "case NxDxV",
        "logits",
        "softmaxkit s (min-max)",
        "GFLOP/s",
        "torch s (min-max)",
        "torch GFLOP/s",
        "torch / softmaxkit",
        "softmaxkit peak extra",
        "traced",
        "torch peak extra",
        "softmaxkit extra / logits (without grads)",
        "loss rel. diff",
    ]
    lines = []
    for row in rows:
        ours, theirs = row.get("softmaxkit", {}), row.get("torch", {})
        n, d, v = row["case"]
        grads = 4 * (n * d + v * d + v)  # the gradients, which both libraries allocate

        t_ours, g_ours = timing(ours, row["flops"])
        t_theirs, g_theirs = timing(theirs, row["flops"])
        both = "min" in ours and "min" in theirs
        cells = [
            "x".join(map(str, row["case"])),
            human(row["logits"]),
            t_ours,
            g_ours,
            t_theirs,
            g_theirs,
            f"{theirs['min'] / ours['min']:.2f}x" if both else "-",
            human(ours["peak_extra"]) if "min" in ours else "-",
            human(ours["traced_peak"]) if ours.get("traced_peak") else "-",
            human(theirs["peak_extra"]) if "min" in theirs else (theirs.get("error", "-") if theirs else "-"),
            f"{ours['peak_extra'] / row['logits']:.3f} ({max(ours['peak_extra'] - grads, 0) / row['logits']:.3f})"
            if "min" in ours
            else "-",
            f"{abs(ours['loss'] - theirs['loss']) / abs(theirs['loss']):.1e}" if both else "-",
        ]
        lines.append(cells)
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
        out += ["| " + " | ".join(cells) + " |" for cells in lines]
        return "\n".join(out)
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(header)]
    out = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    out += ["  ".join(c.rjust(w) for c, w in zip(cells, widths)) for cells in lines]
    return "\n".join(out)


def versions() -> str:
    import numba
    import numpy
    import scipy

    import softmaxkit

    text = f"softmaxkit {softmaxkit.__version__}, numpy {numpy.__version__}, scipy {scipy.__version__}, numba {numba.__version__}"
    try:
        import torch

        text += f", torch {torch.__version__}"
    except ImportError:
        text += ", torch not installed"
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--cases",
        type=lambda s: [parse_case(c) for c in s.split(",") if c],
        default=GRID,
        help="comma-separated NxDxV cases, e.g. 4096x512x32768,16384x2048x131072 (default: the full grid of "
        "N in {4096, 16384}, D in {512, 2048}, V in {32768, 131072})",
    )
    parser.add_argument("--repeats", type=int, default=3, help="processes per library and case (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="threads for BLAS, numba and torch (default 2)")
    parser.add_argument("--chunk-size", type=int, default=None, help="softmaxkit's rows per block (default: its own)")
    parser.add_argument(
        "--limit-gb",
        type=float,
        default=None,
        help="address-space cap of each child in GiB (default 90%% of the memory available; 0: no cap)",
    )
    parser.add_argument("--skip-torch", action="store_true", help="time softmaxkit only")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table (for the README)")
    parser.add_argument("--_one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.limit_gb is None:
        free = available_bytes()
        limit = int(0.9 * free) if free else 0
    else:
        limit = int(args.limit_gb * 2**30)
    if args._one:
        method, case = args._one
        print(json.dumps(one(method, parse_case(case), args.threads, args.chunk_size, limit)))
        return 0

    try:
        import torch  # noqa: F401
    except ImportError:
        args.skip_torch = True
    methods = ["softmaxkit"] if args.skip_torch else list(METHODS)
    load_before = os.getloadavg()
    print(
        f"# bench_linear_head: {cpu_model()}, {args.threads} threads (BLAS, numba, torch), float32, mean loss; "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(f"# {versions()}")
    print(
        f"# each measurement in a fresh process, libraries interleaved, {args.repeats} per library and case; "
        f"child address space capped at {human(limit) if limit else 'nothing'}"
    )
    print(
        f"# load average before: {' '.join(f'{v:.2f}' for v in load_before)} (time only on a quiet machine)",
        flush=True,
    )
    rows = []
    for case in args.cases:
        runs = {m: [] for m in methods}
        for r in range(args.repeats):
            order = methods if r % 2 == 0 else methods[::-1]
            for method in order:
                if runs[method] and "error" in runs[method][-1]:
                    continue  # out of memory once is out of memory every time
                runs[method].append(run_child(method, case, args, limit))
        rows.append(summarise(case, runs))
        print(f"# done {'x'.join(map(str, case))}", file=sys.stderr, flush=True)
    print()
    print(table(rows, args.markdown))
    print()
    print(f"# load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(
        "# peak extra: rise of the peak RSS during the call (gradients included); traced: softmaxkit's peak of "
        "NumPy allocations (tracemalloc); GFLOP/s counts the 6 N D V flops of the three matrix products."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
