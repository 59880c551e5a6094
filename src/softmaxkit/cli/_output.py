"""What the command line prints: text from files made harmless (:func:`softmaxkit._text.printable`), errors as one line.

Everything the commands print to stdout passes through :class:`EscapingWriter`, and every error line
through ``printable``. JSON output is unaffected (``json.dumps`` already escapes control characters).
"""

from __future__ import annotations

from .._text import printable

__all__ = ["printable", "EscapingWriter", "describe_error"]


class EscapingWriter:
    """A text stream that writes :func:`printable` text to the stream it wraps (newlines and tabs kept)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text) -> int:
        self._stream.write(printable(text))
        return len(text)

    def __getattr__(self, name):  # flush, isatty, fileno, encoding, ... of the wrapped stream
        return getattr(self._stream, name)


def describe_error(exc: BaseException) -> str:
    """One line for an expected failure: the message, and for an OS error the file it concerns."""
    if isinstance(exc, MemoryError):
        return f"out of memory{f' ({exc})' if str(exc) else ''}; try smaller sizes or batches"
    if isinstance(exc, OSError) and exc.strerror:  # errno errors: "PATH: Permission denied"
        return f"{exc.filename}: {exc.strerror}" if exc.filename is not None else exc.strerror
    return str(exc) or type(exc).__name__
