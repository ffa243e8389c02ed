"""Copies of the C library behaviour security(1)'s code relies on, quirks included: what it
does with a number typed where it calls atoi(3) or strtoul(3)."""
from __future__ import annotations


def atoi(text: str) -> int:
    """C atoi: leading blanks, an optional sign, then digits; anything else ends it (0 if none)."""
    text = text.lstrip(" \t\n\r\f\v")
    sign, i = 1, 0
    if text[:1] in ("+", "-"):
        sign, i = (-1 if text[0] == "-" else 1), 1
    j = i
    while j < len(text) and "0" <= text[j] <= "9":
        j += 1
    return sign * int(text[i:j]) if j > i else 0


def strtoul(text: str) -> int:
    """C strtoul(text, NULL, 0), reduced to 32 bits as the CSSM_RETURN it is stored in."""
    t = text.lstrip(" \t\n\r\f\v")
    sign = -1 if t[:1] == "-" else 1
    t = t[1:] if t[:1] in "+-" else t
    if t[:2].lower() == "0x" and t[2:3] and t[2:3] in "0123456789abcdefABCDEF":
        base, t = 16, t[2:]
    elif t[:1] == "0":
        base = 8
    else:
        base = 10
    digits = ""
    for ch in t:
        if ch.isdigit() and int(ch) < base or base == 16 and ch in "abcdefABCDEF":
            digits += ch
        else:
            break
    value = int(digits, base) if digits else 0
    if value > 0xFFFFFFFFFFFFFFFF:
        value = 0xFFFFFFFFFFFFFFFF
    return (sign * value) & 0xFFFFFFFF
