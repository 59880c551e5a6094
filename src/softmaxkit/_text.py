"""Text that came from files, made safe to show: control and invisible format characters as escapes.

Class names, layer names and file names can come from an attacker's file; shown raw, a name holding
terminal control sequences could rewrite the screen or hide text, and bidirectional overrides can
make text read differently than it is stored. :func:`printable` turns control characters (C0, DEL,
C1) and the invisible bidirectional and zero-width format characters into visible escapes such as
``\\x1b`` or ``\\u202e``. The command line passes everything it prints through it; plots pass the
class names they draw.
"""

from __future__ import annotations

__all__ = ["printable"]


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_INVISIBLE = [*range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF]
#: Characters shown as escapes: C0 controls but tab and newline, DEL, C1 controls, bidi and zero-width marks.
_TABLE = {code: _escape(code) for code in [*range(0x20), 0x7F, *range(0x80, 0xA0), *_INVISIBLE]}
del _TABLE[ord("\n")], _TABLE[ord("\t")]
_ONE_LINE = {**_TABLE, ord("\n"): " ", ord("\t"): " "}


def printable(text, *, one_line: bool = False) -> str:
    """``text`` with control and invisible format characters shown as escapes.

    Examples
    --------
    >>> printable("cat\\x1b[2Jdog")
    'cat\\\\x1b[2Jdog'
    >>> printable("two\\nlines", one_line=True)
    'two lines'
    """
    return str(text).translate(_ONE_LINE if one_line else _TABLE)
