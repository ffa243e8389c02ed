"""Fake users, keychain passwords and OAuth tokens.

Every secret carries CANARY so a leak can be found by a plain search, and every
secret is registered with `redact` the moment it is made.  Secrets are `Secret`
instances: their repr() never shows the value, because allure-pytest-bdd records
step arguments by repr().
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from keychain_claims import redact

CANARY = "KCCANARY"


class Secret(str):
    """A str whose repr() is redacted; str()/format() give the value."""

    def __repr__(self) -> str:  # pragma: no cover - trivial
        return "'<redacted>'"

    def __reduce__(self):  # pickling (xdist) must not drop the class
        return (Secret, (str(self),))


def secret(value: str, secrets: redact.Secrets | None = None) -> Secret:
    """`value` as a Secret, registered with the run's `secrets` (the run in progress when not given)."""
    if secrets is not None:
        secrets.register(value)
    else:
        redact.register(value)
    return Secret(value)


@dataclass(frozen=True)
class Credential:
    """What Claude Code stores under `Claude Code-credentials`: the OAuth JSON."""

    access_token: Secret
    refresh_token: Secret
    expires_at: int
    payload: Secret = field(repr=False)

    def __repr__(self) -> str:
        return f"Credential(expires_at={self.expires_at}, payload=<redacted>)"


class Fakes:
    """One generator per sandbox; seeded so a failing run can be replayed."""

    def __init__(self, seed: int | None = None, secrets: redact.Secrets | None = None):
        self.secrets = secrets        # the run's (plugins/redaction.py), or the run in progress when None
        from faker import Faker          # on first use: an xdist controller makes no fakes (80 ms)
        self.faker = Faker()
        if seed is not None:
            self.faker.seed_instance(seed)

    def user(self) -> str:
        return self.faker.user_name()

    def keychain_password(self) -> Secret:
        return secret(f"kc-{CANARY}-{self.faker.password(length=14, special_chars=False)}", self.secrets)

    def token(self, kind: str = "oat") -> Secret:
        body = self.faker.pystr(min_chars=40, max_chars=40)
        return secret(f"sk-ant-{kind}01-{CANARY}{body}", self.secrets)

    def credential(self, *, expires_in: int = 8 * 3600, extra: str = "") -> Credential:
        access, refresh = self.token("oat"), self.token("ort")
        expires_at = int((time.time() + expires_in) * 1000)
        doc = {
            "claudeAiOauth": {
                "accessToken": access + extra,
                "refreshToken": refresh,
                "expiresAt": expires_at,
                "scopes": ["user:inference", "user:profile"],
                "subscriptionType": "pro",
            }
        }
        payload = secret(json.dumps(doc, separators=(",", ":"), ensure_ascii=False), self.secrets)
        return Credential(access, refresh, expires_at, payload)
