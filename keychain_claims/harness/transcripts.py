"""Recorded `security` exchanges, and their replay against the simulator.

A transcript is one JSON file per scenario (format in fixtures/transcripts/README.md):
every call the `security` driver made -- argv, stdin, stdout, stderr, exit status, the
answers given to prompts and the context (session kind, caller) -- with secrets redacted
and the sandbox's paths and user replaced by $SCRATCH_KEYCHAIN, $HOME and $USER.  A real
Mac run records them with `--record-transcripts DIR`; `replay()` runs them against the
simulator and lists every difference, so the model answers to what macOS did.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from keychain_claims.redact import MASK, redact
from keychain_claims.security.output import normalise

FORMAT = "keychain-claims/transcript/1"
# a fixed stand-in for redacted secret data, so a replay can send what the recording sent
STAND_IN = '{"claudeAiOauth":{"accessToken":"sk-ant-oat01-KCCANARY-replay","expiresAt":0}}'


def _normalise(text: str, sandbox_values: dict[str, str]) -> str:
    """Redacted, the sandbox's paths and user put back as their placeholders, dates as <date>
    (security/output.py, the one normaliser the fidelity replay uses too)."""
    return normalise(redact(text), {value: placeholder for placeholder, value in sandbox_values.items()})


def _values(sandbox) -> dict[str, str]:
    return {"$SCRATCH_KEYCHAIN": str(sandbox.keychain.path), "$HOME": str(sandbox.home),
            "$USER": sandbox.user}


def record(directory: Path, scenario: str, backend: str, sandbox) -> Path:
    values = _values(sandbox)
    norm = lambda text: None if text is None else _normalise(text, values)  # noqa: E731
    exchanges = []
    for call in sandbox.security.calls:
        rec = call.record()
        exchanges.append({"argv": [norm(a) for a in call.argv], "stdin": norm(call.stdin),
                          "stdout": norm(call.stdout), "stderr": norm(call.stderr), "status": call.status,
                          "prompts": rec["prompts"], "context": {k: norm(v) for k, v in call.context.items()}})
    directory.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", scenario)[:150] + ".json"
    path = directory / name
    path.write_text(json.dumps({"format": FORMAT, "scenario": scenario, "backend": backend,
                                "exchanges": exchanges}, indent=2) + "\n")
    return path


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
    from keychain_claims.backends import SimBackend
    from keychain_claims.fakes import Fakes
    from keychain_claims.redact import register
    from keychain_claims.harness.sandbox import Sandbox
    register(STAND_IN)
    doc = json.loads(Path(path).read_text())
    if doc.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} transcript")
    differences: list[Difference] = []
    with Sandbox(SimBackend(), Fakes(seed=0)) as box:
        values = _values(box)

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
            got = {"stdout": _normalise(call.stdout, values), "stderr": _normalise(call.stderr, values),
                   "status": call.status, "prompts": [p.kind + ":" + p.answer for p in call.prompts]}
            for field_name, value in got.items():
                if ex[field_name] != value:
                    differences.append(Difference(n, field_name, ex[field_name], value))
    return differences
