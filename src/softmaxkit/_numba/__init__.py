"""Fused multi-core numba kernels behind the public softmax-family signatures, and the nn kernels.

The entry points are in :mod:`~softmaxkit._numba.dispatch`; each returns ``None`` when it does not
handle the input (small arrays, numba missing), and the caller falls back to the NumPy reference
implementation in :mod:`softmaxkit.kernels`.

Modules
-------
dispatch
    Python entry points, launch plan, lazy import of everything below (imports no numba itself).
floats
    fastmath flags and the dtype-generic helpers: casts, bit reinterpretation, order keys.
exp
    Branch-free polynomial ``exp`` for float32 and float64.
log1p
    Branch-free float64 ``log1p`` (one per column in column mode, in SIMD lanes).
segments
    Statistics and output passes of one row or one segment of a row.
rows, split, narrow, columns
    The four launch modes (below).
nn
    Max pooling and the fused SGD update of :mod:`softmaxkit.nn`.

Design
------
- numba is imported lazily, on the first call large enough to be worth compiling, so
  ``import softmaxkit`` stays fast; this package's ``__init__`` and :mod:`.dispatch` import no
  numba. The kernels are ordinary module-level ``numba.njit(cache=True)`` functions (compiled code
  is cached on disk next to each module), compiled per dtype on first use: they are generic over
  float32 and float64 through the overloads of :mod:`.floats` and :func:`.exp.exp`, which numba
  resolves from the argument types.
- A Fortran-ordered input is computed as its C-contiguous transpose (the class axis mirrored), so
  it is never copied. In the row modes the class axis is moved last and the data viewed as
  C-contiguous ``(rows, n)`` (a transposed copy when the class axis is not last).
- Column mode (:mod:`.columns`; class axis not last, C-contiguous input, at least one SIMD vector
  of entries after the class axis): no transposed copy. The data is viewed as ``(outer, n,
  inner)`` and blocks of up to 1024 consecutive columns (inner positions) are processed one column
  per SIMD lane: max over the classes (reading memory), exponentials summed (stored in the output
  on the way: the exponentials for softmax, ``z - max`` for log-softmax), output pass; a block's
  ``n x width`` entries stay in the core's L2 cache between the passes. ``prange`` over tasks of
  (outer index, block) units. Each column's arithmetic is its own lane's, so the bits do not
  depend on the blocking. Columns without a finite maximum or holding a NaN take the per-row code
  through a contiguous buffer.
- Per-row mode (many rows, :mod:`.rows`): ``prange`` over rows; each row is read from memory once
  and its second and third passes hit the cache (softmax: max; exp, store and sum; scale;
  log-softmax: max; exp, sum and store ``x - max``; subtract ``log1p(rest)``). A softmax needs
  only the total of the exponentials, so it sums them all, with no mask and no tie count; the
  log-softmax, logsumexp and cross-entropy keep the maximal entry's 1 out of ``rest`` (below).
- Narrow mode (:mod:`.narrow`; rows of at most ``_NARROW`` classes, e.g. a classifier head, where
  per-row loops are too short to vectorise): blocks of ``_NARROW_BLOCK`` rows are read row by row
  (row max on the way) into a small transposed buffer, so the exponential-and-sum pass runs across
  rows, one row per SIMD lane. ``prange`` over tasks of ``_NARROW_GROUP`` blocks. Rows without a
  finite maximum or holding a NaN fall back to the per-row code. Serial launches call a second
  driver with a plain ``range`` loop over the same task function (no threading-layer launch, no
  thread-count switch).
- Inputs under ``_SERIAL_SIZE`` elements run on one thread (``numba.set_num_threads`` is
  thread-local and restored), so a small call never waits for a busy core.
- Split mode (:mod:`.split`; few long rows): ``prange`` over (row, chunk) tasks computes per-chunk
  partials (max, sum of exponentials relative to the chunk max, count of maximal entries, NaN
  flag), a serial step combines them per row, and a second ``prange`` writes the output.
- ``exp`` is a branch-free polynomial (range reduction ``x = k ln 2 + r``, near-minimax polynomial
  in ``r``, ``2**k`` built from exponent bits) that vectorises; float32 data uses a float32 version
  (16 SIMD lanes). Sums run in the data's dtype over blocks of 256 entries, then in float64.
- fastmath is on without ``nnan``/``ninf``: NaN rows are detected explicitly (their sum is NaN),
  and the log-softmax output ``(x - m) - log1p(rest)`` is computed in a strict function (where
  ``x - m`` is stored by the exponential pass, a single subtraction, the output pass subtracts
  ``log1p(rest)`` strictly: the same operations). Storing in the exponential pass, which is
  compute bound, brings the output's cache lines in while it computes instead of in the output
  pass, which would wait for them (per-row softmax and log-softmax unless in place, column mode). Each
  function keeps its own flags: helpers with other flags than their caller are separate compiled
  functions (inlined by LLVM, which keeps the flags per instruction), never inlined by numba.
- Each Python function is compiled with one set of options: numba's on-disk cache is indexed by
  the function's qualified name and line, and two option sets under one name would collide.

Semantics are those of the NumPy path: ``+inf`` entries share the mass equally, ``-inf`` entries
get 0, a NaN makes its own row NaN, a row of only ``-inf`` gives NaN (logsumexp ``-inf``).

Note for developers: numba's on-disk cache of a function is invalidated only by changes to the
file defining that function (its modification time and size, taken when a process first
compiles), not by changes to the functions it calls in other files: after editing :mod:`.floats`
or :mod:`.exp`, say, the cached callers in the other modules still hold the old code. After
editing any module of this package, delete ``src/softmaxkit/_numba/__pycache__/*.nbi`` and
``*.nbc``. Likewise, a process that imported an older version of a file and compiles after an edit
can store stale code under the new time stamp.
"""
