"""The one redaction function removes secrets in every form the tools print them."""
from __future__ import annotations

import json

import pytest

from keychain_claims.fakes import CANARY, Fakes, Secret, secret
from keychain_claims.redact import MASK, redact

fakes = Fakes(seed=7)


def test_fake_secrets_carry_the_canary_and_hide_in_repr():
    token, password = fakes.token(), fakes.keychain_password()
    assert CANARY in token and CANARY in password
    assert isinstance(token, Secret) and CANARY not in repr(token) and CANARY not in repr([token])
    cred = fakes.credential()
    assert CANARY not in repr(cred)
    assert json.loads(cred.payload)["claudeAiOauth"]["accessToken"] == cred.access_token


@pytest.mark.parametrize("form", ["raw", "json", "hex", "HEX", "dump"])
def test_every_printed_form_is_masked(form):
    cred = fakes.credential()
    payload = str(cred.payload)
    text = {"raw": payload, "json": json.dumps({"x": payload}), "hex": payload.encode().hex(),
            "HEX": payload.encode().hex().upper(),
            "dump": f'    "gena"<blob>=0x{payload.encode().hex().upper()}  "{payload}"'}[form]
    out = redact(f"before {text} after")
    assert out.startswith("before ") and out.endswith(" after")
    assert CANARY not in out and "sk-ant-" not in out and CANARY.encode().hex() not in out.lower()


def test_unregistered_token_shapes_are_masked():
    assert redact("Bearer sk-ant-oat01-abcDEF_123-xyz end") == f"Bearer {MASK} end"
    assert redact(b"pw=kc-KCCANARY-zzz") == f"pw={MASK}"


@pytest.mark.parametrize("value", [
    "quote\"and'apostrophe", "new\nline", "$(rm -rf ~) `id` ;|&", "ünïcødé ✓ 🔑", "x" * 4096,
])
def test_hostile_secrets_are_masked(value):
    s = secret(f"{value}-{CANARY}")
    for text in (str(s), json.dumps(str(s)), str(s).encode().hex()):
        out = redact(f"<<{text}>>")
        assert CANARY not in out and str(s) not in out, out[:200]


def test_plain_text_is_left_alone():
    text = 'security find-generic-password -l "Claude Code-credentials" | grep -E "svce|acct"'
    assert redact(text) == text


def test_overlapping_secrets_are_masked_whole():
    """Two secrets that overlap in the text: masking the longer first used to leave the head of the
    shorter one (`xx1234<redacted>`) in the clear."""
    out = redact("xx12345678abcdefghyy", ["12345678ab", "5678abcdefgh"])
    assert out == f"xx{MASK}yy"


@pytest.mark.parametrize("run", ["letters", "hex", "canary-at-end", "hex-canary-at-end"])
def test_a_megabyte_word_is_redacted_whole_or_left_alone(run):
    """One word of a megabyte (a hostile argument to a simulated call): the patterns that carry the
    canary used to backtrack over the whole word at every position (quadratic: 40 KB took 14 s, so
    this never finished); the word is now found once and masked whole or left as it was."""
    size = 1_000_000
    text = {"letters": "a" * size, "hex": "ab" * (size // 2),
            "canary-at-end": "a" * size + CANARY, "hex-canary-at-end": "ab" * (size // 2) + CANARY.encode().hex()}[run]
    out = redact(f"x {text} y")
    assert out == (f"x {text} y" if run in ("letters", "hex") else f"x {MASK} y")
