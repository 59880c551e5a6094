"""A restricted unpickler for the pickled data sets (CIFAR-10 batches, ``mnist.pkl.gz``).

Plain :func:`pickle.load` runs whatever callable a file names, so a crafted "data set" could run
arbitrary code. :class:`RestrictedUnpickler` resolves exactly the globals that a pickled NumPy array
needs and refuses everything else:

* ``numpy.core.multiarray._reconstruct`` (spelt ``numpy._core.multiarray._reconstruct`` by NumPy 2),
* ``numpy.ndarray``,
* ``numpy.dtype``.

Dicts, lists, tuples, bytes, str and numbers need no globals. The names are mapped to the objects
directly, so unpickling never imports a module. The official files are Python 2 pickles (protocol 2);
pickles written by Python 3 load if they use protocol 3 or 4 (protocol 2 from Python 3 spells bytes
as ``_codecs.encode`` calls and protocol 5 arrays use ``numpy._core.numeric._frombuffer``, both
refused).
"""

from __future__ import annotations

import pickle

import numpy as np

from ..exceptions import DatasetFormatError

__all__ = ["RestrictedUnpickler", "safe_load"]

_RECONSTRUCT = np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's _reconstruct, without importing numpy.core

ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the NumPy array globals in :data:`ALLOWED`.

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
            return ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name} (only NumPy arrays are allowed)"
            ) from None


def safe_load(fileobj, *, source, encoding: str = "bytes"):
    """Unpickle ``fileobj`` with :class:`RestrictedUnpickler`.

    Parameters
    ----------
    fileobj : binary file object
    source : str or path
        Named in error messages.
    encoding : str, optional
        How Python 2 ``str`` objects are decoded; ``"bytes"`` (the default) keeps them as bytes,
        which is what the official CIFAR-10 batches need.

    Raises
    ------
    DatasetFormatError
        If the stream is not a pickle, is truncated, or names a forbidden global.

    Examples
    --------
    >>> import io
    >>> safe_load(io.BytesIO(pickle.dumps({"labels": [1, 2]})), source="x")
    {'labels': [1, 2]}
    """
    try:
        return RestrictedUnpickler(fileobj, encoding=encoding).load()
    except pickle.UnpicklingError as exc:
        raise DatasetFormatError(f"{source}: not a valid data set pickle: {exc}") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, OSError) as exc:
        raise DatasetFormatError(f"{source}: corrupt or truncated pickle ({type(exc).__name__}: {exc})") from None
