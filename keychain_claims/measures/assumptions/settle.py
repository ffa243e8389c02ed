"""Running the probes: `settle` (one scratch keychain per probe, a transcript each), `load` (read
them back), `listing`, and `keychain-claims assumptions` (main).  A settle transcript is one model
(`SettleTranscript`), written by `settle` and read by `load` (and so by sim/fidelity.py)."""
from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

# importing them registers their probes, in this order (the listing's and the settle run's)
from keychain_claims.measures.assumptions import keychain  # noqa: F401,I001
from keychain_claims.measures.assumptions import formats  # noqa: F401,I001
from keychain_claims.measures.assumptions import tools  # noqa: F401,I001
from keychain_claims.measures.assumptions.probe import FORMAT, REGISTRY, CouldNotRun, Held, Host
from keychain_claims.redact import redact
from keychain_claims.backends import select
from keychain_claims.errors import BackendUnavailable

# a probe's status: what the host answered (held, did-not-hold), that this backend cannot be asked
# (not-settled-here), or that the probe itself failed (could-not-run: never a did-not-hold)
Status = Literal["held", "did-not-hold", "not-settled-here", "could-not-run"]
STATUSES: tuple[Status, ...] = get_args(Status)
SUMMARY_FILE = "assumptions.json"       # beside the transcripts: id -> status, observed, backend, host


class SettleTranscript(BaseModel):
    """What one probe asked the host and what it answered (`<out>/<id>.json`)."""
    model_config = ConfigDict(extra="ignore")
    format: str = FORMAT
    id: str
    assumed: str
    source: str
    settles: str
    status: Status
    observed: str
    backend: str
    simulated: bool
    host: str
    seconds: float
    calls: list[dict[str, Any]]

    def dumps(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=1)


# ----------------------------------------------------------------------------- running them
def listing(results: dict | None = None) -> list[dict]:
    results = results or {}
    rows = []
    for a in REGISTRY.values():
        row = {"id": a.id, "assumed": a.assumed, "source": a.source, "settles": a.settles,
               "status": results.get(a.id, {}).get("status", "unsettled")}
        if a.id in results:
            row["observed"] = results[a.id].get("observed", "")
            row["backend"] = results[a.id].get("backend", "")
        rows.append(row)
    return rows


def settle(backend, out: Path | None = None, only: list[str] | None = None) -> dict[str, dict]:
    """Run every probe (or `only`) on `backend`, each on a fresh scratch keychain; write one
    transcript per probe into `out` and the summary `assumptions.json`; return id -> result."""
    results = {}
    for a in REGISTRY.values():
        if only and a.id not in only:
            continue
        host = None
        started = time.monotonic()
        try:
            host = Host(backend)
            answer = a.probe(host)
        except Exception as exc:      # noqa: BLE001 - a probe that could not run is said, never a pass
            answer = CouldNotRun(f"{type(exc).__name__}: {str(exc)[:300]}")
        calls = host.transcript() if host else []
        if host:
            host.close()
        status: Status
        if isinstance(answer, Held):
            status, observed = ("held" if answer.held else "did-not-hold"), answer.observed
        elif isinstance(answer, CouldNotRun):
            status, observed = "could-not-run", answer.reason
        else:
            status, observed = "not-settled-here", answer.reason
        transcript = SettleTranscript(id=a.id, assumed=a.assumed, source=a.source, settles=a.settles,
                                      status=status, observed=redact(str(observed)), backend=backend.name,
                                      simulated=backend.simulated,
                                      host=f"{platform.system()} {platform.release()} {platform.machine()}",
                                      seconds=round(time.monotonic() - started, 2), calls=calls)
        results[a.id] = transcript.model_dump(mode="json")
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{a.id}.json").write_text(transcript.dumps())
    if out is not None:
        summary = {k: {f: v[f] for f in ("status", "observed", "backend", "host")} for k, v in results.items()}
        (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=1))
    return results


def load(directory: Path) -> dict[str, dict]:
    """Settle transcripts written by `settle` (other JSON files beside them, the summary among them,
    are passed over); ValueError (one line) for a file that is no JSON, or a transcript of the wrong shape."""
    found = {}
    for path in sorted(Path(directory).glob("*.json")):
        try:
            doc = json.loads(path.read_text())
            if isinstance(doc, dict) and doc.get("format") == FORMAT:
                transcript = SettleTranscript.model_validate(doc)
                found[transcript.id] = transcript.model_dump(mode="json")
        except (OSError, ValueError) as exc:
            why = (f"{'.'.join(str(x) for x in exc.errors()[0]['loc'])}: {exc.errors()[0]['msg']}"
                   if isinstance(exc, ValidationError) else type(exc).__name__)
            raise ValueError(f"{path} is not a settle transcript ({why}); settle again "
                             "(keychain-claims assumptions --settle --out DIR)") from None
    return found


def main(argv: list[str]) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="keychain-claims assumptions",
                                     description="the macOS behaviours the simulator and the macOS backend assume")
    parser.add_argument("--json", action="store_true", help="print them as JSON")
    parser.add_argument("--settle", action="store_true", help="run every probe here and record what the host answered")
    parser.add_argument("--backend", default="auto", help="auto|macos|sim|rehearsal (with --settle)")
    parser.add_argument("--out", default="reports/assumptions", help="where settle transcripts go (with --settle)")
    parser.add_argument("--only", default="", help="comma list of assumption ids (with --settle)")
    args = parser.parse_args(argv)
    results = {}
    if args.settle:
        try:
            backend = select(args.backend)
        except BackendUnavailable as exc:
            print(f"keychain-claims assumptions: {exc}", file=sys.stderr)
            return 2
        why = backend.unavailable()
        if why:
            print(f"keychain-claims assumptions: {why}", file=sys.stderr)
            return 2
        results = settle(backend, Path(args.out), [i for i in args.only.split(",") if i] or None)
    elif Path(args.out).exists():
        try:
            results = load(Path(args.out))
        except ValueError as exc:
            print(f"keychain-claims assumptions: {exc}", file=sys.stderr)
            return 2
    rows = listing(results)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for row in rows:
            print(f"{row['id']:<24} {row['status']:<17} {row['assumed']}")
            observed = " ⏎ ".join(row.get("observed", "").splitlines())[:160]
            print(f"{'':<24} source: {row['source']}" + (f"; observed: {observed}" if observed else ""))
    if args.settle:      # the summary: to stderr when stdout is JSON, so stdout stays one JSON document
        count = {status: sum(r["status"] == status for r in results.values()) for status in STATUSES}
        print(f"assumptions: {count['held']} held, {count['did-not-hold']} did not hold, "
              f"{count['not-settled-here']} not settled here, {count['could-not-run']} could not run "
              f"({len(results)} probed on the {results and next(iter(results.values()))['backend']} backend); "
              f"transcripts in {args.out}", file=sys.stderr if args.json else sys.stdout)
        if count["could-not-run"] or not results:
            failed = [k for k, r in results.items() if r["status"] == "could-not-run"]
            print(f"keychain-claims assumptions: {len(failed)} probe(s) could not run ({', '.join(failed[:6])}"
                  f"{', …' if len(failed) > 6 else ''}): nothing is settled by them; their transcripts say why",
                  file=sys.stderr)
            return 1
    return 0
