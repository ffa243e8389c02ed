"""One way a set of scenario outcomes becomes the files a reader opens: the verdict table
(claims.json/md), the corrected article (article.proposed.md), the claims x releases matrix
(release-matrix.*), outcomes.json (what a later
`keychain-claims merge` reads) and the verdict table as an Allure result.  Used by the suite at
session end (plugins/publish.py) and by the merge of several runs (reports/merge.py), so the
two cannot drift apart.  A partial run or merge writes `*.partial.*` and leaves the complete
files as they were."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from keychain_claims.claims.article import Article
from keychain_claims.claims.files import OutcomeRow, OutcomesFile
from keychain_claims.claims.ledger import Ledger
from keychain_claims.claims.outcomes import Outcome
from keychain_claims.claims.proposals import compute_proposals
from keychain_claims.claims.verdicts import compute, compute_omissions, suite_failures
from keychain_claims.reports.markdown import write
from keychain_claims.reports import allure as allure_files
from keychain_claims.reports.matrix import write_matrix
from keychain_claims.reports.proposed import write_proposed
from keychain_claims.reports import history as release_history
from keychain_claims import atomic
from keychain_claims.security.process import alive
from keychain_claims.errors import UserError

OUTCOMES_FILE = "outcomes.json"             # the model: claims/files.py OutcomesFile
PARTIAL_OUTCOMES_FILE = "outcomes.partial.json"
RUN_MARKER = "keychain-claims-run.txt"     # in the Allure results: which verdict table belongs to them


@dataclass
class Published:
    verdicts: list
    omissions: list
    claims_json: Path
    claims_md: Path
    failures: list = field(default_factory=list)    # scenarios that failed without a claim (suite failures)
    history: release_history.History | None = None     # the release history written, if any
    history_problem: str = ""       # why it was not (an unreadable history file, left as it was)


def new_run_id() -> str:
    import uuid
    return uuid.uuid4().hex


def publish(out: Path, outcomes: list[Outcome], ledger: Ledger, article: Article, backends: dict[str, bool],
            labels: dict[str, str], partial: str = "", results: Path | None = None, run_id: str = "",
            runs: list[str] | None = None, histories: list | None = None,
            run_commits: dict[str, str] | None = None) -> Published:
    """Fold `outcomes` (of `backends`: name -> simulated) into verdicts and write them to `out`;
    with `results`, the verdict table also goes into that Allure results folder.  `run_id` names
    the run (new when empty); `runs` gives each outcome's own run (a merge keeps them).  The
    releases' columns are added to the release history `out` holds (else the committed one) and
    to the `histories` of merged folders (reports/history.py); `run_commits` names the suite commit
    of each run when the outcomes come from other runs (a merge), else all are this checkout's.
    OSError when a file cannot be written; an unreadable history is left as it was and said in
    `history_problem`."""
    verdicts = compute(outcomes, ledger, article, backends)
    omissions = compute_omissions(outcomes, ledger, article, backends)
    suffix = ".partial" if partial else ""
    failures = suite_failures(outcomes)
    proposals = compute_proposals(outcomes, ledger, article, verdicts, omissions)
    json_path, md_path = write(verdicts, out, article, labels, omissions, "claims" + suffix, partial, failures,
                               proposals)
    write_proposed(out / f"article.proposed{suffix}.md", article, proposals, partial)
    write_matrix(outcomes, ledger, out, "release-matrix" + suffix)
    run_id = run_id or new_run_id()
    run_commits = run_commits if run_commits is not None else {run_id: release_history.suite_commit()}
    write_outcomes(out, outcomes, backends, labels, article.sha256, run_id=run_id, runs=runs, partial=partial,
                   run_commits=run_commits)
    kept, problem = None, ""
    try:
        kept = release_history.accumulate(out, outcomes, backends, article.sha256, ledger, histories or [],
                                          runs or [run_id] * len(outcomes), run_commits)
    except release_history.HistoryError as exc:
        problem = str(exc)
    if results is not None:
        allure_files.verdict_result(results, backends, md_path)
    return Published(verdicts, omissions, json_path, md_path, failures, kept, problem)


def write_outcomes(out: Path, outcomes: list[Outcome], backends: dict[str, bool], labels: dict[str, str],
                   article_sha256: str, releases: list[str] | None = None, run_id: str = "",
                   runs: list[str] | None = None, partial: str = "",
                   run_commits: dict[str, str] | None = None) -> Path:
    """`<reports-dir>/outcomes.json` (a partial run: outcomes.partial.json): what `merge` needs to
    recompute verdicts from this run.  `run_id` names the run; `runs` gives each outcome's own run
    (a merge keeps them, so merging a run twice counts it once); `run_commits` the suite commit of
    each run (the release history records it per release)."""
    out.mkdir(parents=True, exist_ok=True)
    run_id = run_id or new_run_id()
    path = out / (PARTIAL_OUTCOMES_FILE if partial else OUTCOMES_FILE)
    doc = OutcomesFile(run_id=run_id, partial=partial, article_sha256=article_sha256,
                       suite_commits=run_commits or {}, backends=backends, labels=labels,
                       releases=sorted(set(releases or [o.release for o in outcomes if o.release])),
                       outcomes=[OutcomeRow(**dataclasses.asdict(o), run=(runs[n] if runs else run_id))
                                 for n, o in enumerate(outcomes)])
    atomic.write_text(path, doc.dumps())
    return path


# ---------------------------------------------------------------- a run's Allure results
# A run writes its Allure results into a staging folder beside their target and publishes them only
# when it reaches a result (`publish_results`): a complete run into the target, a partial run into
# `<target>.partial`.  `pytest --help`, `--collect-only`, a collection error, a run stopped before
# its session ended or a plugin switched off leave the last complete run's results as they were.
ALLURE_FILES = ("*-result.json", "*-container.json", "*-attachment*", "environment.properties",
                "executor.json", "categories.json", RUN_MARKER, "*.tmp")
STAGING = ".staging-"


def staging_for(target: Path, pid: int | None = None) -> Path:
    import os
    return target.parent / f".{target.name}{STAGING}{pid or os.getpid()}"


def partial_results(target: Path) -> Path:
    """Where a partial run's Allure results go: beside the complete run's, never over them."""
    return target.with_name(target.name + ".partial")


def stage_results(target: Path) -> Path:
    """A fresh, empty staging folder for this run's Allure results (on the target's file system, so
    publishing is a rename), after sweeping the staging folders of runs that died."""
    import os
    import shutil
    for old in target.parent.glob(f".{target.name}{STAGING}*"):
        pid = old.name.rsplit(STAGING, 1)[1]
        if not pid.isdigit() or int(pid) == os.getpid() or not alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    staging = staging_for(target)
    staging.mkdir(parents=True)
    return staging


def discard_results(staging: Path) -> None:
    import shutil
    shutil.rmtree(staging, ignore_errors=True)


def publish_results(staging: Path, target: Path, clean: bool = True) -> Path:
    """Move the run's Allure results from `staging` into `target`; with `clean` the Allure files
    of earlier runs there go (files of other kinds stay: `--alluredir` may name a folder that holds
    more than Allure results).  The new files are in place before the old ones go, so the folder is
    never empty.  OSError when they cannot be moved (the caller says so in one line)."""
    import os
    target.mkdir(parents=True, exist_ok=True)
    old = {p.name for pattern in ALLURE_FILES for p in target.glob(pattern)} if clean else set()
    new = set()
    for path in sorted(staging.iterdir()):
        if path.name.endswith(".tmp"):
            continue
        os.replace(path, target / path.name)
        new.add(path.name)
    for name in old - new:
        try:
            os.unlink(target / name)
        except FileNotFoundError:
            pass
    discard_results(staging)
    return target


# ---------------------------------------------------------------- one run per reports folder
LOCK_FILE = ".keychain-claims.lock"


class Busy(UserError):
    """Another run (or merge) holds the folder: one line naming it."""


def results_lock(target: Path, command: str) -> "FolderLock":
    """The lock of an Allure results folder outside the reports folder: a file beside it."""
    return FolderLock(target.parent, command, f".{target.name}.lock")


class FolderLock:
    """An exclusive lock on a folder a run or a merge writes (`<folder>/.keychain-claims.lock`,
    flock), naming its holder (pid, start time, command) for the one line a second run is refused
    with.  The kernel lets the lock go when its holder dies, so a dead run's lock is simply taken
    over; the file is left behind, holding the last holder's name."""

    def __init__(self, folder: Path, command: str, name: str = LOCK_FILE):
        import fcntl
        import os
        import time
        self.path = Path(folder) / name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self.path.read_text(errors="replace").strip() or "a process that has not said which"
            os.close(self.fd)
            raise Busy(f"{folder} is in use by another run ({holder})") from None
        except OSError:
            os.close(self.fd)
            raise
        os.ftruncate(self.fd, 0)
        started = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime())
        os.pwrite(self.fd, f"pid {os.getpid()}, started {started}, `{command[:200]}`\n".encode(), 0)

    def release(self) -> None:
        import os
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
