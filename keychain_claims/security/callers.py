"""Code identities of the programs that ask the keychain for an item.

The keychain binds a grant to the requesting binary's designated requirement and
partition ID (security-cli.md section 3).  On the simulated backend a step can make
the next `security` call act as another program by exporting KEYCHAIN_SIM_CALLER;
on macOS that needs real signed binaries, so those steps skip there.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace

SIGNINGS = ("apple-tool", "apple", "developer-id", "app-store", "adhoc", "unsigned")


@dataclass(frozen=True)
class CodeIdentity:
    path: str
    identifier: str
    signing: str                 # one of SIGNINGS
    team: str = ""
    build: int = 1               # bumps on every rebuild; the cdhash follows it

    @property
    def cdhash(self) -> str:
        return hashlib.sha1(f"{self.path}|{self.identifier}|{self.team}|{self.build}".encode()).hexdigest()

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def to_env(self) -> str:
        data = asdict(self)
        data.pop("build")
        data["cdhash"] = self.cdhash
        return json.dumps(data, sort_keys=True)

    # --- what happens to a binary over its life -------------------------------------
    def updated(self) -> "CodeIdentity":
        """A new build signed the same way (same team for Developer ID)."""
        return replace(self, build=self.build + 1)

    def resigned(self, signing: str, team: str = "") -> "CodeIdentity":
        return replace(self, signing=signing, team=team, build=self.build + 1)


SECURITY_TOOL = CodeIdentity("/usr/bin/security", "com.apple.security", "apple-tool")


def app(name: str, signing: str, team: str = "") -> CodeIdentity:
    if signing not in SIGNINGS:
        raise ValueError(f"unknown signing {signing!r}; use one of {', '.join(SIGNINGS)}")
    if signing in ("developer-id", "app-store") and not team:
        team = "Q6L2SF6YDW"
    slug = name.lower().replace(" ", "-")
    return CodeIdentity(f"/Applications/{name}.app/Contents/MacOS/{slug}", f"com.example.{slug}", signing, team)
