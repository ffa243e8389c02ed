"""`keychain-claims bisect WHAT --good A --bad B`: the first published release between A and B
where WHAT differs from its value at A.

WHAT is a fingerprint name (`write`, `spawn`, ...; read from the release, see fingerprints.py)
or a claim ID of the ledger (the release scenarios run on that version in a pytest subprocess,
`-m release`, and the claim's cell of that release's column of the release history is the value;
with `--history FILE` each version run is added to that history, and a version complete there for
this suite commit is not run again).

The search treats "B is unchanged too" as one more possible answer, so n releases take at most
⌈log2(n)⌉ evaluations after A's.  Like `git bisect`, it assumes one change in the range.  A
release that cannot be evaluated (not downloadable, not runnable here, the claim not checkable
on it) is skipped over, as `git bisect skip` does, and reported; when skips hide the boundary
the answer names the versions it could be."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable

from keychain_claims.releases.cache import ReleaseError
from keychain_claims.releases.npm import PACKAGE
from keychain_claims.releases.registry import load
from keychain_claims.releases.release import Release
from keychain_claims.releases.versions import between
from keychain_claims.releases import fingerprints
from keychain_claims import PROJECT_ROOT
from keychain_claims.claims.ledger import Ledger
from keychain_claims.reports import history as release_history
from keychain_claims.harness.sandbox import owned_dir
from keychain_claims.errors import ReleaseProblem, UserError


class BisectError(UserError):
    """One line that says what to do."""


class Unevaluable(ReleaseProblem):
    """This release cannot say what WHAT is (skipped over)."""


@dataclass
class Observation:
    version: str
    value: str
    evidence: dict = field(default_factory=dict)


@dataclass
class Result:
    what: str
    good: str
    bad: str
    versions: list[str]
    first_changed: str | None
    last_same: str | None
    candidates: list[str]                 # skipped releases that hide the boundary, then the first changed
    steps: list[Observation]
    skipped: dict[str, str]               # version -> why

    @property
    def answer(self) -> str:
        if self.first_changed:
            return self.first_changed
        if self.candidates:
            return ("one of " + ", ".join(self.candidates) + " (skipped releases hide the boundary)"
                    if self.candidates[-1] not in self.skipped else
                    "unknown: if it changed, it is in one of " + ", ".join(self.candidates) + " (all skipped)")
        return f"none: {self.what} is the same from {self.good} to {self.bad}"


def fingerprint_names() -> list[str]:
    with tempfile.NamedTemporaryFile(suffix=".js") as empty:
        return sorted(fingerprints.read(Path(empty.name)))


def release_source(release: Release) -> Path:
    """The file fingerprints are read from: cli.js, or the largest file (the native binary)."""
    if release.bundle:
        return release.bundle
    if release.entry is not None and release.entry.exists():
        return release.entry.parent / "fingerprints.js"      # the graph's modules that name an anchor
    files = [p for p in release.root.rglob("*") if p.is_file()]
    if not files:
        raise Unevaluable(f"{release.version}: the package holds no file to read")
    return max(files, key=lambda p: p.stat().st_size)


def fingerprint_evaluator(name: str) -> Callable[[str], Observation]:

    def evaluate(version: str) -> Observation:
        try:
            release = load(version)
        except ReleaseError as exc:
            raise Unevaluable(str(exc)) from None
        source = release_source(release)
        found = (fingerprints.of_release(release) if source.name == "fingerprints.js" else fingerprints.read(source))[name]
        return Observation(version, found.value if found.status == "found" else f"not found ({found.value})",
                           {"kind": "fingerprint", "fingerprint": name, "status": found.status,
                            "value": found.value, "excerpt": found.excerpt, "source": source.name})
    return evaluate


def claim_evaluator(claim: str, workdir: Path, history: Path | None = None) -> Callable[[str], Observation]:
    """Run the release scenarios on one version; the value is the claim's cell of that release's
    column in the release history (holds / contradicted / fails / ...); `not-checkable` cannot
    decide, so it skips.  With `history` (a release-history.json): a version whose column there is
    complete for this suite commit is not run again, and every version run is added to it."""
    ledger = Ledger()
    commit = release_history.suite_commit()

    def column(version: str):
        kept = release_history.load(history) if history else release_history.History()
        if version in release_history.done(kept, commit):
            return kept.columns[version]
        out = workdir / version
        cmd = [sys.executable, "-m", "pytest", "-m", "release", "-q",
               "--claude-code", version, f"--reports-dir={out}", f"--alluredir={out / 'allure-results'}"]
        (out / release_history.HISTORY_FILE).unlink(missing_ok=True)    # only this run's answer counts
        proc = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            found = release_history.load(out / release_history.HISTORY_FILE).columns[version]
        except (release_history.HistoryError, KeyError):
            last = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
            raise Unevaluable(f"the release scenarios did not run (exit {proc.returncode}: {last[:200]})") from None
        if history:
            kept = release_history.add(release_history.load(history), [found])
            release_history.write(kept, ledger, history.parent, history.name.removesuffix(".json"))
        return found

    def evaluate(version: str) -> Observation:
        try:
            found = column(version)
        except release_history.HistoryError as exc:
            raise BisectError(str(exc)) from None
        _, rows = release_history.fold_cells(release_history.History(columns={version: found}), ledger)
        cells = [c for c in rows if c["claim"] == claim]
        if not cells:
            raise Unevaluable(f"no release scenario checks {claim}")
        cell = cells[0]
        if cell["verdict"] == "not-checkable":
            why = "; ".join(sorted({e["reason"] for e in cell["evidence"] if e["reason"]}))[:300]
            raise Unevaluable(f"{claim} is not checkable with {version} here" + (f": {why}" if why else ""))
        return Observation(version, str(cell["verdict"]), {"kind": "claim", "claim": claim, "release": cell["release"],
                                                           "verdict": str(cell["verdict"]), "evidence": cell["evidence"]})
    return evaluate


def _nearest(lo: int, hi: int, skipped: set[int]) -> int | None:
    """The untried index inside (lo, hi) closest to its middle (git bisect skip moves the same way)."""
    mid = (lo + hi) // 2
    for offset in range(hi - lo):
        for index in (mid + offset, mid - offset):
            if lo < index < hi and index not in skipped:
                return index
    return None


def search(what: str, versions: list[str], evaluate: Callable[[str], Observation],
           say: Callable[[str], None] = print) -> Result:
    """Binary search for the first version whose value differs from versions[0]'s."""
    steps: list[Observation] = []
    skipped: dict[str, str] = {}

    def step(index: int) -> Observation | None:
        version = versions[index]
        try:
            seen = evaluate(version)
        except Unevaluable as exc:
            skipped[version] = str(exc)
            say(f"step {len(steps) + len(skipped)}: {version}  skipped: {exc}")
            return None
        steps.append(seen)
        say(f"step {len(steps) + len(skipped)}: {version}  {seen.value}")
        return seen

    if len(versions) < 2:
        raise BisectError("the range holds a single release; give a --bad published after --good")
    reference = step(0)
    if reference is None:
        raise BisectError(f"{versions[0]} (--good) cannot be evaluated: {skipped[versions[0]]}; pick another --good")
    lo, hi = 0, len(versions)                  # versions[lo] is the same; index len(versions): "no change"
    tried: set[int] = set()
    while hi - lo > 1:
        index = _nearest(lo, hi, tried)
        if index is None:                      # everything between lo and hi was skipped
            break
        tried.add(index)
        seen = step(index)
        if seen is None:
            continue
        if seen.value == reference.value:
            lo = index
        else:
            hi = index
    hidden = versions[lo + 1:hi]               # all skipped
    changed = [versions[hi]] if hi < len(versions) else []
    first = changed[0] if changed and not hidden else None
    return Result(what, versions[0], versions[-1], versions, first, versions[lo] if first else None,
                  hidden + changed, steps, skipped)


def write_evidence(result: Result, out: Path) -> list[Path]:
    """reports/bisect/<what>-<version>.json for every release evaluated, and <what>.json (the run)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for seen in result.steps:
        path = out / f"{result.what}-{seen.version}.json"
        side = ("first changed" if seen.version == result.first_changed
                else "last same" if seen.version == result.last_same else "step")
        path.write_text(json.dumps({"what": result.what, "version": seen.version, "side": side,
                                    "value": seen.value, "evidence": seen.evidence}, indent=2))
        paths.append(path)
    summary = out / f"{result.what}.json"
    summary.write_text(json.dumps({
        "what": result.what, "good": result.good, "bad": result.bad, "releases_in_range": len(result.versions),
        "first_changed": result.first_changed, "last_same": result.last_same, "answer": result.answer,
        "steps": [{"version": s.version, "value": s.value} for s in result.steps],
        "skipped": result.skipped}, indent=2))
    return [summary, *paths]


def run(what: str, good: str, bad: str, out: Path, say: Callable[[str], None] = print,
        package: str = PACKAGE, history: Path | None = None) -> Result:
    names = fingerprint_names()
    if what in names:
        evaluate = fingerprint_evaluator(what)
    else:
        ledger = Ledger()
        if what not in ledger:
            raise BisectError(f"{what!r} is neither a fingerprint ({', '.join(names)}) nor a claim ID of the ledger")
        evaluate = claim_evaluator(what, owned_dir(f"bisect-{what}-"), history)
    try:
        versions = between(good, bad, package)
    except ReleaseError as exc:
        raise BisectError(str(exc)) from None
    say(f"bisecting {what} over {len(versions)} releases {versions[0]}..{versions[-1]} "
        f"(at most {math.ceil(math.log2(len(versions))) + 1} releases loaded, skips aside)")
    result = search(what, versions, evaluate, say)
    for version, why in result.skipped.items():
        say(f"skipped {version}: {why}")
    paths = write_evidence(result, out)
    if result.first_changed and result.last_same:
        before = next(s for s in result.steps if s.version == result.last_same)
        after = next(s for s in result.steps if s.version == result.first_changed)
        say(f"{result.last_same}: {before.value}")
        say(f"{result.first_changed}: {after.value}")
    say(f"evidence: {paths[0].parent}/{what}-*.json")
    say(f"first changed: {result.answer}")
    return result
