"""`keychain-claims merge DIR [DIR ...] --output OUT`: the results of separate runs (CI jobs of a
sweep, runs on other machines) as one.  Each DIR is a run's reports folder: `outcomes.json`
(written by every suite run) and `allure-results/`.  OUT gets the Allure result files of all
of them (their names are unique uuids), one verdict table (claims.json/md) and one claims ×
releases matrix recomputed from the union of outcomes with the suite's own fold, and an
outcomes.json of the union (so merged folders merge again)."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from keychain_claims.backends import PROVENANCE_TITLES, provenance_kind
from keychain_claims.claims.files import OutcomesError, OutcomesFile
from keychain_claims.claims.outcomes import Outcome
from keychain_claims.claims.release_order import release_key
from keychain_claims.reports.history import HISTORY_FILE, HistoryError, load as _load_history
from keychain_claims.reports.allure import ENVIRONMENT_FILE
from keychain_claims.errors import UserError
from keychain_claims.reports.matrix import MatrixError, ReleaseMatrix
from keychain_claims.reports.publish import OUTCOMES_FILE, PARTIAL_OUTCOMES_FILE, publish
from keychain_claims.claims.article import Article, ArticleError
from keychain_claims.claims.ledger import Ledger, LedgerError
from keychain_claims.atomic import why

RESULTS_DIR = "allure-results"


class MergeError(UserError):
    """One line that says what to do."""


def load_history(path: Path):
    """A merged folder's release history (empty when it has none); MergeError when unreadable."""
    try:
        return _load_history(path)
    except HistoryError as exc:
        raise MergeError(str(exc)) from None


def read_outcomes(folder: Path) -> dict:
    """A run's outcomes.json (or, from a partial run, outcomes.partial.json)."""
    if not folder.is_dir():
        raise MergeError(f"{folder} is not a folder; pass the reports folders of the runs to merge")
    path = folder / OUTCOMES_FILE
    if not path.exists() and (folder / PARTIAL_OUTCOMES_FILE).exists():
        path = folder / PARTIAL_OUTCOMES_FILE
    try:
        raw = path.read_bytes()
        doc = OutcomesFile.parse(raw, path)
    except FileNotFoundError:
        raise MergeError(f"{folder} holds no {OUTCOMES_FILE}; pass a run's reports folder "
                         "(a suite run writes it there, beside claims.json)") from None
    except OSError as exc:
        raise MergeError(f"{path} cannot be read ({exc.strerror}); pass a run's reports folder") from None
    except OutcomesError as exc:
        raise MergeError(str(exc)) from None
    import hashlib
    fallback = doc.run_id or hashlib.sha256(raw).hexdigest()[:32]      # written before runs had ids
    outcomes = [row.outcome() for row in doc.outcomes]
    runs = [row.run or fallback for row in doc.outcomes]
    return {"outcomes": outcomes, "runs": runs, "backends": doc.backends, "labels": doc.labels,
            "article_sha256": doc.article_sha256, "suite_commits": doc.suite_commits,
            "partial": doc.partial or (path.name == PARTIAL_OUTCOMES_FILE and "partial"),
            # the Allure results of the same run: a partial run's are beside the complete run's
            "results": folder / (RESULTS_DIR + (".partial" if path.name == PARTIAL_OUTCOMES_FILE else ""))}


@dataclass
class Merged:
    output: Path
    results: Path
    folders: list[Path]
    outcomes: list[Outcome]
    backends: dict[str, bool]
    releases: list[str]
    result_files: int
    verdicts: list = field(default_factory=list)
    runs: int = 0                 # distinct runs merged
    repeated: int = 0             # outcomes left out: their run was merged already
    partial: str = ""

    def summary(self) -> list[str]:
        counts: dict[str, int] = {}
        for v in self.verdicts:
            counts[v.verdict] = counts.get(v.verdict, 0) + 1
        suffix = ".partial" if self.partial else ""
        return [f"merged {len(self.folders)} folder(s), {self.runs} run(s): {len(self.outcomes)} scenario outcomes, "
                f"{self.result_files} Allure result files, backends {', '.join(sorted(self.backends))}, "
                f"releases {', '.join(self.releases) or 'none'}",
                "verdicts: " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())),
                f"written: {self.output / ('claims' + suffix + '.md')}, "
                f"{self.output / ('release-matrix' + suffix + '.md')}, {self.output / 'release-history.html'}, {self.results}"] \
            + ([f"{self.repeated} outcomes left out: their run was already in an earlier folder"] if self.repeated else []) \
            + ([f"PARTIAL: some runs were partial ({self.partial}); written as claims.partial.*"] if self.partial else [])


def _merge_properties(target: Path, source: Path) -> None:
    """The environment files of several runs (reports/allure.py, ENVIRONMENT_FILE): every key, differing
    values joined."""
    def read(path: Path) -> dict[str, str]:
        pairs = {}
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                pairs[key] = value
        return pairs
    merged = read(target) if target.exists() else {}
    for key, value in read(source).items():
        values = merged.get(key, "").split(" | ") if key in merged else []
        if value not in values:
            values.append(value)
        merged[key] = " | ".join(values)
    target.write_text("".join(f"{k}={v}\n" for k, v in merged.items()))


def _copy_results(source: Path, target: Path) -> int:
    """Copy one run's Allure results; its own verdict-table result is left out (merge writes one
    for the union).  Returns the number of test results copied."""
    skip: set[str] = set()
    results = sorted(source.glob("*-result.json"))
    for path in results:
        try:
            doc = json.loads(path.read_text())
        except ValueError:
            continue
        if str(doc.get("historyId", "")).startswith("claims-ledger-"):
            skip.add(path.name)
            skip.update(a.get("source", "") for a in doc.get("attachments", []))
    copied = 0
    for path in source.iterdir():
        if not path.is_file() or path.name in skip:
            continue
        if path.name == ENVIRONMENT_FILE:
            _merge_properties(target / path.name, path)
        elif path.name in ("categories.json", "executor.json") and (target / path.name).exists():
            continue
        else:
            shutil.copy2(path, target / path.name)
            copied += path.name.endswith("-result.json")
    return copied


def merge(folders: list[Path], output: Path) -> Merged:
    """The merge of `folders` into `output`, each folder locked meanwhile (reports/publish.py,
    FolderLock): a folder a run is still writing is refused with one line naming the run, never
    read half-written."""
    from keychain_claims.reports.publish import Busy, FolderLock
    if not folders:
        raise MergeError("name at least one result folder to merge")
    if output.resolve() in [f.resolve() for f in folders]:
        raise MergeError(f"--output {output} is one of the folders to merge; write the merge to a new folder")
    locks = []
    try:
        for folder in dict.fromkeys(f.resolve() for f in [*folders, output]):
            if folder.is_dir():
                locks.append(FolderLock(folder, "keychain-claims merge"))
        return _merge(folders, output)
    except Busy as exc:
        raise MergeError(f"{exc}; merge once it has finished") from None
    except OSError as exc:
        raise MergeError(f"cannot lock the folders to merge ({why(exc)}); pass folders you can write") from None
    finally:
        for lock in locks:
            lock.release()


def _merge(folders: list[Path], output: Path) -> Merged:
    runs = [read_outcomes(f) for f in folders]
    try:
        article, ledger = Article(), Ledger()
    except (ArticleError, LedgerError) as exc:
        raise MergeError(str(exc)) from None
    other = sorted({r["article_sha256"] for r in runs} - {article.sha256, ""})
    if other:
        raise MergeError(f"some runs checked another version of the article (sha256 {other[0][:16]}, this "
                         f"checkout {article.sha256[:16]}); merge with the checkout those runs used")

    results = output / RESULTS_DIR
    try:
        if output.exists() and not output.is_dir():
            raise NotADirectoryError(20, "Not a directory", str(output))
        shutil.rmtree(results, ignore_errors=True)
        results.mkdir(parents=True)
    except OSError as exc:
        raise MergeError(f"cannot write the merge to {output} ({why(exc)}); pass --output=<a writable folder>") from None
    copied = 0
    for run in runs:
        if run["results"].is_dir():
            copied += _copy_results(run["results"], results)

    outcomes, outcome_runs, seen = [], [], set()
    for r in runs:
        fresh = {run for run in r["runs"] if run not in seen}    # a run merged before counts once
        for outcome, run in zip(r["outcomes"], r["runs"]):
            if run in fresh:
                outcomes.append(outcome)
                outcome_runs.append(run)
        seen |= set(r["runs"])
    partial = "; ".join(sorted({str(r["partial"]) for r in runs if r["partial"]}))
    backends: dict[str, bool] = {}
    labels: dict[str, str] = {}
    run_commits: dict[str, str] = {}
    for r in runs:
        backends.update(r["backends"])
        labels.update(r["labels"])
        run_commits.update(r["suite_commits"])
    for name, simulated in backends.items():     # outcomes.json written before runs kept their labels
        labels.setdefault(name, f"{PROVENANCE_TITLES[provenance_kind(simulated)]} security(1)")
    try:
        done = publish(output, outcomes, ledger, article, backends, labels, partial, results,
                       runs=outcome_runs, histories=[load_history(f / HISTORY_FILE) for f in folders],
                       run_commits=run_commits)
        if done.history_problem:
            raise MergeError(done.history_problem)
        verdicts = done.verdicts
    except OSError as exc:
        raise MergeError(f"cannot write the merge to {output} ({why(exc)}); pass --output=<a writable folder>") from None
    releases = sorted({o.release for o in outcomes if o.release}, key=release_key)
    return Merged(output, results, list(folders), outcomes, backends, releases, copied, verdicts,
                  len(set(outcome_runs)), sum(len(r["outcomes"]) for r in runs) - len(outcomes), partial)


def changes(folder: Path, old: str, new: str) -> str:
    """Markdown listing every claim whose verdict in `folder`'s release matrix differs between
    releases `old` and `new` (a claim checked on only one of them counts as differing); "" when
    none differs."""
    path = folder / "release-matrix.json"
    if not folder.is_dir():      # the path given is wrong, not the run: say where it was looked for
        raise MergeError(f"no folder {folder} (looked for {folder.absolute()}); pass the reports folder of a run "
                         "with --claude-code, relative to this folder or absolute")
    try:
        matrix = ReleaseMatrix.read(path)
    except FileNotFoundError:
        raise MergeError(f"{folder} holds no release-matrix.json; run the suite with --claude-code first") from None
    except OSError as exc:
        raise MergeError(f"{path} cannot be read ({exc.strerror}); pass a reports folder holding "
                         "release-matrix.json") from None
    except MatrixError as exc:
        raise MergeError(str(exc)) from None
    cells = {(c.claim, c.release): c for c in matrix.cells}
    missing = [r for r in (old, new) if r not in matrix.releases]
    if missing:
        raise MergeError(f"the release matrix in {folder} has no column {missing[0]}; "
                         f"it holds {', '.join(matrix.releases) or 'none'}")
    rows = []
    for claim in sorted({c for c, _ in cells}):
        before, after = cells.get((claim, old)), cells.get((claim, new))
        was, now = before.verdict if before else "—", after.verdict if after else "—"
        if was != now:
            why = "; ".join(f"{e.result}: {e.scenario}" + (f" ({e.reason[:160]})" if e.reason else "")
                            for e in (after.evidence if after else []))
            rows.append(f"| {claim} | {was} | {now} | {why.replace('|', '/')} |")
    if not rows:
        return ""
    return "\n".join([f"Claims whose verdict differs between Claude Code {old} and {new}:", "",
                      f"| claim | {old} | {new} | evidence on {new} |", "|---|---|---|---|", *rows])
