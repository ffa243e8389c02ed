"""Recorded `security` exchanges: the transcript a scenario's calls leave (`record`).

A transcript is one JSON file per scenario (format in fixtures/transcripts/README.md):
every call the `security` driver made -- argv, stdin, stdout, stderr, exit status, the
answers given to prompts and the context (session kind, caller) -- with secrets redacted
and the sandbox's paths and user replaced by $SCRATCH_KEYCHAIN, $HOME and $USER.  A real
Mac run records them with `--record-transcripts DIR`; measures/transcripts.py replays them against
the simulator and lists every difference, so the model answers to what macOS did.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from keychain_claims.redact import redact
from keychain_claims.security.output import normalise

FORMAT = "keychain-claims/transcript/1"


def normalised(text: str, sandbox_values: dict[str, str]) -> str:
    """Redacted, the sandbox's paths and user put back as their placeholders, dates as <date>
    (security/output.py, the one normaliser the fidelity replay uses too)."""
    return normalise(redact(text), {value: placeholder for placeholder, value in sandbox_values.items()})


def placeholders(sandbox) -> dict[str, str]:
    """What a transcript writes in place of the sandbox's own values."""
    return {"$SCRATCH_KEYCHAIN": str(sandbox.keychain.path), "$HOME": str(sandbox.home),
            "$USER": sandbox.user}


def record(directory: Path, scenario: str, backend: str, sandbox) -> Path:
    values = placeholders(sandbox)
    norm = lambda text: None if text is None else normalised(text, values)  # noqa: E731
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
