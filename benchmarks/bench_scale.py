"""Scale: ``softmaxkit score`` on inputs of 0.25 to 2 GiB, against ``predict_proba`` with everything in memory.

For each size, a uint8 MNIST-shaped ``.npy`` of random pixels is written to a temporary folder (the
numbers do not depend on the pixel values) and scored by an MLP 784-256-128-10 built with a fixed seed
(untrained: the work per image is the same). Three runs, each in a fresh process:

- ``in memory``: ``np.load`` the whole file, scale it (``scale_pixels``), ``model.predict_proba``;
- ``score, threads``: ``softmaxkit score MODEL X.npy --out OUT.zarr`` on the local threaded scheduler;
- ``score, LocalCluster``: the same with ``--scheduler`` pointing at a fresh ``distributed.LocalCluster``
  of 2 worker processes with one thread each (started for each size, so that its workers' peak memory
  is that size's).

Each run reports its wall time (the whole process: interpreter start, imports, reading, scoring and,
for ``score``, writing the Zarr group), its throughput and the peak resident memory of its process
(``VmHWM`` of the child, polled every 20 ms); for the cluster, the peak of each worker process too
(``VmHWM`` read inside the worker). The in-memory run is skipped where it would need more than 60% of the
memory available.

    python benchmarks/bench_scale.py                    # 0.25, 0.5, 1 and 2 GiB
    python benchmarks/bench_scale.py --sizes 0.25 1     # some sizes
    python benchmarks/bench_scale.py --dir /big/tmp     # where the inputs are written (default: $TMPDIR)
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import cpu_model

ROW_SHAPE = (1, 28, 28)
ROW_BYTES = 784
MIB = 2**20

IN_MEMORY = """
import sys, time
import numpy as np
from softmaxkit.calibration import load_model
from softmaxkit.datasets import scale_pixels
model = load_model(sys.argv[1])
start = time.perf_counter()
x, _ = scale_pixels(np.load(sys.argv[2]))
loaded = time.perf_counter()
probs = model.predict_proba(x)
labels = probs.argmax(axis=1)
done = time.perf_counter()
print(f"{loaded - start:.3f} {done - loaded:.3f}")
"""


def write_input(path: Path, gib: float, rng) -> int:
    """A uint8 .npy of ``gib`` GiB of random MNIST-shaped rows, written 100,000 rows at a time.

    Written through a file, not a memory map: a mapped file's pages would count in this process's
    resident memory, and every child would inherit that peak in its ``ru_maxrss``.
    """
    n = int(gib * 2**30) // ROW_BYTES
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f,
            {
                "descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
                "fortran_order": False,
                "shape": (n, *ROW_SHAPE),
            },
        )
        for lo in range(0, n, 100_000):
            f.write(rng.integers(0, 256, (min(n, lo + 100_000) - lo, *ROW_SHAPE), dtype=np.uint8).tobytes())
    return n


def high_water_mib(pid="self") -> int:
    """Peak resident memory (``VmHWM``) of a process since it started its program, MiB; 0 once it is gone.

    Unlike ``ru_maxrss``, which a child inherits from the parent it was forked from (the parent's peak
    counts as the child's), ``VmHWM`` belongs to the program the process runs.
    """
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def run_child(argv) -> tuple[float, int, str]:
    """Run ``argv`` in a new process: (wall seconds, its peak resident MiB (polled ``VmHWM``), its stdout)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([str(a) for a in argv], stdout=out, stderr=err, text=True)
        peak = 0
        while proc.poll() is None:  # VmHWM only grows: the last reading before exit is the peak (to 20 ms)
            peak = max(peak, high_water_mib(proc.pid))
            time.sleep(0.02)
        wall = time.perf_counter() - start
        out.seek(0), err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, argv))} failed ({proc.returncode}): {err.read()[-2000:]}")
        return wall, peak, out.read()


def available_mib() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return 0


def worker_peaks(client) -> list[int]:
    return sorted(client.run(high_water_mib).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.25, 0.5, 1.0, 2.0], metavar="GIB")
    parser.add_argument("--dir", default=None, help="where to write the inputs (default: the temp folder)")
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    from softmaxkit import nn

    softmaxkit = [sys.executable, "-m", "softmaxkit"]
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-", dir=args.dir) as tmp:
        tmp = Path(tmp)
        model = tmp / "mlp.skm"
        nn.architectures.mlp(ROW_SHAPE, 10, hidden=(256, 128), rng=np.random.default_rng(0)).save(model)
        for gib in args.sizes:
            x = tmp / f"x-{gib:g}.npy"
            n = write_input(x, gib, rng)
            row = {"gib": gib, "n": n}
            need = n * ROW_BYTES * 5 // MIB  # the file, its float32 copy
            if need < 0.6 * available_mib():
                wall, peak, out = run_child([sys.executable, "-c", IN_MEMORY, model, x])
                load_s, predict_s = map(float, out.split())
                row["memory"] = (wall, peak, load_s, predict_s)
            wall, peak, _ = run_child([*softmaxkit, "score", model, x, "--out", tmp / "local.zarr", "--no-progress"])
            row["threads"] = (wall, peak)
            with (
                LocalCluster(
                    n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
                ) as cluster,
                Client(cluster) as client,
            ):
                argv = [*softmaxkit, "score", model, x, "--out", tmp / "cluster.zarr", "--no-progress"]
                wall, peak, _ = run_child([*argv, "--scheduler", cluster.scheduler_address])
                row["cluster"] = (wall, peak, worker_peaks(client))
            for path in (x, tmp / "local.zarr", tmp / "cluster.zarr"):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
            rows.append(row)
            print(f"{gib:g} GiB done", file=sys.stderr)
    print_table(rows)


def print_table(rows) -> None:
    print(
        f"{cpu_model()}, {os.cpu_count()} cores, {available_mib() // 1024} GiB available, Python "
        f"{platform.python_version()}, numpy {np.__version__}, {datetime.date.today()}, "
        f"load average at the end {os.getloadavg()[0]:.2f}"
    )
    print()
    print(
        "| input | rows | run | wall (s) | images/s | time vs in memory | images/s of predict_proba alone / this "
        "| peak RSS, process (MiB) | peak RSS, each worker (MiB) |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        gib, n = row["gib"], row["n"]
        size = f"{gib:g} GiB"
        reference = predict_s = None
        if "memory" in row:
            wall, peak, load_s, predict_s = row["memory"]
            reference = wall
            run = f"in memory (load+scale {load_s:.1f} s, predict_proba {predict_s:.1f} s: {n / predict_s:,.0f}/s)"
            print(
                f"| {size} | {n:,} | {run} | {wall:.1f} | {n / wall:,.0f} | 1.00x | {wall / predict_s:.2f} | {peak:,} | |"
            )
        else:
            print(f"| {size} | {n:,} | in memory: skipped (not enough memory) | | | | | | |")
        for key, label in (("threads", "score, threads"), ("cluster", "score, LocalCluster 2 workers x 1 thread")):
            wall, peak, *workers = row[key]
            versus = f"{wall / reference:.2f}x" if reference else ""
            slower = f"{wall / predict_s:.2f}" if predict_s else ""
            workers = " / ".join(f"{w:,}" for w in workers[0]) if workers else ""
            print(
                f"| {size} | {n:,} | {label} | {wall:.1f} | {n / wall:,.0f} | {versus} | {slower} | {peak:,} | {workers} |"
            )


if __name__ == "__main__":
    main()
