"""Text from files and databases, made safe to print on a terminal."""
from __future__ import annotations

# C0 controls, DEL, C1 controls and the bidirectional overrides and isolates: a file's metadata holding
# them could clear the screen, retitle the window, hide or reorder what follows (ANSI escapes, "Trojan source")
_UNSAFE = [*range(0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ESCAPES = {c: repr(chr(c))[1:-1] if repr(chr(c))[1] == "\\" else f"\\u{c:04x}" for c in _UNSAFE}


def printable(text) -> str:
    """`text` with every control character written out as an escape (ESC as \\x1b, a newline as \\n):
    one line, shown as it is, never obeyed by the terminal. Anything else is unchanged."""
    return str(text).translate(_ESCAPES)

