"""The suite's recorded `security` transcripts (harness/transcripts.py writes them, format in
fixtures/transcripts/README.md) replayed against the simulator: every exchange run in order on a fresh
simulated sandbox, every difference in stdout, stderr, exit status or prompts listed (`replay`).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from keychain_claims.backends import SimBackend
from keychain_claims.fakes import Fakes
from keychain_claims.harness.sandbox import Sandbox
from keychain_claims.harness.transcripts import FORMAT, normalised, placeholders
from keychain_claims.redact import MASK, register

# a fixed stand-in for redacted secret data, so a replay can send what the recording sent
STAND_IN = '{"claudeAiOauth":{"accessToken":"sk-ant-oat01-KCCANARY-replay","expiresAt":0}}'


@dataclass
class Difference:
    exchange: int
    field: str
    expected: object
    got: object

    def __str__(self) -> str:
        return f"exchange {self.exchange} {self.field}: expected {self.expected!r}, got {self.got!r}"


def _stand_in(text: str) -> str:
    """Put the stand-in secret where the recording had a redacted one (hex inside -X, else text)."""
    text = re.sub(r'(-X\s+"?)' + re.escape(MASK), lambda m: m.group(1) + STAND_IN.encode().hex(), text)
    return text.replace(MASK, STAND_IN)


def replay(path: Path) -> list[Difference]:
    """Run a transcript's exchanges in order against a fresh simulated sandbox."""
    register(STAND_IN)
    doc = json.loads(Path(path).read_text())
    if doc.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} transcript")
    differences: list[Difference] = []
    with Sandbox(SimBackend(), Fakes(seed=0)) as box:
        values = placeholders(box)

        def restore(text: str) -> str:
            return _stand_in(text.replace("$SCRATCH_KEYCHAIN", values["$SCRATCH_KEYCHAIN"])
                             .replace("$HOME", values["$HOME"]).replace("$USER", values["$USER"]))

        for n, ex in enumerate(doc["exchanges"]):
            context = ex.get("context", {})
            box.session.set_gui(gui=context.get("ui") == "gui")
            choices = [p.split(":", 1)[1] for p in ex["prompts"] if p.startswith("item-dialog:")]
            unlock = next((p.split(":", 1)[1] for p in ex["prompts"] if p.startswith("unlock-dialog:")), "OK")
            env = {k: restore(v) for k, v in context.items() if k.startswith("KEYCHAIN_SIM_")}
            stdin = None if ex["stdin"] is None else restore(ex["stdin"])
            call = box.security.run(*[restore(a) for a in ex["argv"]], stdin=stdin,
                                    responder=box.responder(choices=choices, unlock_choice=unlock), env=env or None)
            got = {"stdout": normalised(call.stdout, values), "stderr": normalised(call.stderr, values),
                   "status": call.status, "prompts": [p.kind + ":" + p.answer for p in call.prompts]}
            for field_name, value in got.items():
                if ex[field_name] != value:
                    differences.append(Difference(n, field_name, ex[field_name], value))
    return differences
