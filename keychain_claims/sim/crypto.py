"""Keys, password verifiers and item data at rest.  Not real cryptography: enough that a
keychain file never holds a secret in the clear and a locked keychain cannot be read."""
from __future__ import annotations

try:                      # the builtin module starts in microseconds; hashlib loads OpenSSL
    from _sha256 import sha256
except ImportError:       # pragma: no cover
    from hashlib import sha256
import os
from keychain_claims.security import errors


def new_salt() -> str:
    return os.urandom(16).hex()


def verifier(salt: str, password: str) -> str:
    return sha256(b"verify:" + bytes.fromhex(salt) + password.encode("utf-8", "surrogateescape")).hexdigest()


def key(salt: str, password: str) -> str:
    return sha256(b"key:" + bytes.fromhex(salt) + password.encode("utf-8", "surrogateescape")).hexdigest()


def _stream(key_hex: str, n: int) -> bytes:
    out, k, counter = bytearray(), bytes.fromhex(key_hex), 0
    while len(out) < n:
        out += sha256(k + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:n])


def seal(key_hex: str, data: bytes) -> str:
    return bytes(a ^ b for a, b in zip(data, _stream(key_hex, len(data)))).hex()


def unseal(key_hex: str, sealed: str) -> bytes:
    try:
        raw = bytes.fromhex(sealed)
    except (ValueError, TypeError):                 # stored data that is not hex: a damaged item
        raise errors.SecError(errors.DECODE) from None
    return bytes(a ^ b for a, b in zip(raw, _stream(key_hex, len(raw))))
