"""`keychain-claims`: the suite's command line.

  keychain-claims report [--results DIR] [--output DIR]   build the static HTML report (Allure 3) and
                                                          the annotated article (reports/article.html)
  keychain-claims check                                   ledger, article and features agree
  keychain-claims sweep                                   remove sandboxes left by killed runs
  keychain-claims fidelity [--dir DIR] [--verbose|--json] the simulator replayed on real macOS transcripts
  keychain-claims bisect WHAT --good A --bad B            first release where a fingerprint or claim changed
  keychain-claims merge DIR [DIR ...] --output OUT        one report and one matrix from several runs' results
  keychain-claims versions SPEC [--chunks N]              the releases a --claude-code SPEC names (A..B, last:N)
  keychain-claims changes DIR --from A --to B             claims whose release verdict differs from A to B
  keychain-claims history run SPEC --runs DIR [--chunk N] the release scenarios on SPEC in chunks (resumable)
  keychain-claims history render [--from F ...] [--out D] a release history (folded from its outcomes) as
                                                          Markdown, HTML and JSON (default: docs/history/)
  keychain-claims history cost DIR [--total N]            what a chunked run cost, extrapolated to N releases
  keychain-claims assumptions [--settle] [--json]         the macOS behaviours assumed, and their probes

`keychain-claims COMMAND --help` says what each option means.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from keychain_claims import PROJECT_ROOT, REPORTS_DIR
from keychain_claims.atomic import why, writable_folder
from keychain_claims.errors import UserError

if TYPE_CHECKING:
    from keychain_claims.claims.files import ClaimsTable


class CliError(UserError):
    """One line that says what to do."""


def _allure() -> list[str]:
    binary = PROJECT_ROOT / "node_modules" / ".bin" / "allure"
    if not binary.exists():
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            raise CliError("the HTML report needs Node.js >= 20 with npm; install them (e.g. apt-get install nodejs npm)")
        print("installing the Allure 3 CLI from npm (once) ...", file=sys.stderr, flush=True)
        proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PROJECT_ROOT,
                              capture_output=True, text=True)
        if proc.returncode != 0 or not binary.exists():
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise CliError(f"npm install failed ({last}); check that the npm registry is reachable and retry")
    return [str(binary)]


def _config(output: Path, history: Path, doc: ClaimsTable | None = None, attachments: Sequence[Path] = ()) -> Path:
    """The Allure 3 configuration for this report (keychain_claims/reports/allure.py:
    report_config), as an allurerc.mjs in a folder of its own."""
    import json
    from keychain_claims.reports.allure import report_config
    from keychain_claims.harness.sandbox import owned_dir
    conf = report_config(output, history, doc, attachments)
    path = owned_dir("allurerc-") / "allurerc.mjs"        # under build/, never the host's /tmp
    path.write_text("export default " + json.dumps(conf, indent=2) + ";\n")
    return path


def scenario_links(results: Path, index: Path, base: Path) -> dict[str, str]:
    """pytest node id -> the scenario's page in the Allure report (Allure 3 names a result
    md5(uuid)), relative to `base`."""
    import hashlib
    import os
    from keychain_claims.reports.allure import scenario_results
    href = os.path.relpath(index, base)
    return {nodeid: f"{href}#{hashlib.md5(result['uuid'].encode()).hexdigest()}"
            for _, nodeid, result in scenario_results(results) if result.get("uuid")}


def claims_of(results: Path) -> Path:
    """The verdict table that belongs to these Allure results: the run marks it in the results
    (claims.json, or claims.partial.json after a partial run); else claims.json beside them."""
    from keychain_claims.reports.publish import RUN_MARKER
    try:
        marker = (results / RUN_MARKER).read_text()
    except OSError:
        marker = ""
    name = next((line.split("=", 1)[1].strip() for line in marker.splitlines() if line.startswith("claims=")), "")
    return results.parent / (Path(name).name or "claims.json")


def read_claims(path: Path) -> ClaimsTable:
    """A verdict table (claims.json, the model claims/files.py): one line when it is not one."""
    from keychain_claims.claims.files import ClaimsTable, TableError
    try:
        return ClaimsTable.read(path)
    except OSError as exc:
        raise CliError(f"{path} cannot be read ({exc.strerror}); pass --claims=<a run's claims.json>") from None
    except TableError as exc:
        raise CliError(f"{exc}, or pass --claims=<a run's claims.json>") from None


def report(results: Path, output: Path, history: Path | None = None, claims: Path | None = None) -> Path:
    if results.exists() and not results.is_dir():
        raise CliError(f"--results {results} is a file; pass the folder of Allure results (allure-results)")
    if not results.is_dir():
        raise CliError(f"no Allure results at {results}; run the suite first (pytest)")
    if not any(results.glob("*-result.json")):
        raise CliError(f"{results} holds no test results; run the suite first (pytest)")
    for flag, folder in (("--output", output), ("--history", (history or output.parent / "history.jsonl").parent)):
        try:
            writable_folder(folder)
        except OSError as exc:
            raise CliError(f"{flag} {folder} is not a writable folder ({why(exc)}); pass another {flag}") from None
    if history is not None and history.is_dir():
        raise CliError(f"--history {history} is a folder; pass a file (e.g. history.jsonl)")
    claims = claims or claims_of(results)
    doc, attachments = None, []
    if claims.exists():
        from keychain_claims.reports.article import build
        doc = read_claims(claims)
        article, missing = build(claims, claims.parent / "article.html",
                                 scenario_links(results, output / "index.html", claims.parent))
        if missing:
            print(f"keychain-claims: quotes not found in the rendered article: {', '.join(missing)}", file=sys.stderr)
        attachments = [article, claims.parent / "release-matrix.html", claims.parent / "claims.md"]
    else:
        print(f"keychain-claims: no {claims}; the report will not name the verdicts (pass --claims)", file=sys.stderr)
    if output.is_dir() and any(output.iterdir()):
        if not (output / "index.html").exists():
            raise CliError(f"{output} is not empty and holds no report; pass another --output")
        shutil.rmtree(output)     # Allure 3 flattens its plugin's folder only into an empty output
    config = _config(output, history or output.parent / "history.jsonl", doc, attachments)
    cmd = [*_allure(), "generate", str(results), "-o", str(output), "--config", str(config)]
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True)
    shutil.rmtree(config.parent, ignore_errors=True)
    if proc.returncode != 0 or not (output / "index.html").exists():
        last = ((proc.stderr or proc.stdout).strip().splitlines() or ["no output"])[-1]
        raise CliError(f"allure generate failed: {last}")
    return output / "index.html"


# ---------------------------------------------------------------- one function per sub-command
# Each returns the exit code; bad input raises CliError (one line that says what to do).

PAGES = (("article.html", "annotated article"), ("article.proposed.md", "proposed corrections"),
         ("claims.md", "verdict table"), ("release-matrix.html", "claims x releases"),
         ("release-history.html", "release history"))


def built_pages(folder: Path) -> list[str]:
    """One line per page of a reports folder a reader may open, naming it and its path."""
    return [f"{what}: {folder / name}" for name, what in PAGES if (folder / name).exists()]


def run_report(args) -> int:
    index = report(args.results, args.output, args.history, args.claims)
    claims = args.claims or claims_of(args.results)
    print(f"report: {index}  (open it first; serve it: npx allure open {args.output})")
    if claims.exists():
        for line in built_pages(claims.parent):
            print(line)
    return 0


def run_check(args) -> int:
    from keychain_claims.claims.article import Article, ArticleError
    from keychain_claims.claims.coverage import FeatureFileError, problems, unscenarioed_omissions
    from keychain_claims.claims.ledger import Ledger, LedgerError
    try:
        article = Article(args.article) if args.article else Article()
        ledger = Ledger(args.ledger or article.path.with_suffix(".claims.yaml"))
        found = problems(article, ledger)
    except (ArticleError, LedgerError, FeatureFileError) as exc:
        raise CliError(str(exc)) from None
    for line in found:
        print(line)
    if not any(line.startswith("omission ") and "has no scenario" in line for line in found):
        for oid in unscenarioed_omissions(ledger):     # accepted until any scenario names an omission
            print(f"omission {oid}: not-checkable: no scenario yet (accepted until a scenario is tagged "
                  "with any omission)")
    if not found:
        print(f"ledger and article agree: {len(ledger.claims)} claims, {len(ledger.omissions)} omissions "
              f"({ledger.path.name}, {article.path.name}, the features' tags)")
    return 1 if found else 0


def run_sweep(args) -> int:
    from keychain_claims.harness.sandbox import sweep
    removed = sweep()
    print(f"swept {len(removed)} sandbox(es)" + "".join(f"\n  {p}" for p in removed))
    return 0


def run_fidelity(args) -> int:
    from keychain_claims.measures import fidelity
    if args.dir is not None and not args.dir.is_dir():
        raise CliError(f"no directory {args.dir}; give --dir a directory of real transcripts (*.json)")
    try:
        return fidelity.main(args.dir, verbose=args.verbose, as_json=args.json, settled_directory=args.settled)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def run_bisect(args) -> int:
    from keychain_claims.measures.bisect import BisectError, run as bisect
    try:
        result = bisect(args.what, args.good, args.bad, args.reports_dir, say=lambda line: print(line, flush=True),
                        history=args.history)
    except BisectError as exc:
        raise CliError(str(exc)) from None
    return 0 if result.first_changed else 2


def run_merge(args) -> int:
    from keychain_claims.reports.merge import MergeError, merge
    try:
        merged = merge(args.folders, args.output)
    except MergeError as exc:
        raise CliError(str(exc)) from None
    for line in merged.summary():
        print(line)
    if not args.no_html:
        index = report(merged.results, args.output / "allure-report", args.output / "history.jsonl")
        print(f"report: {index}  (serve it: npx allure open {args.output / 'allure-report'})")
    return 0


def run_versions(args) -> int:
    import json
    from keychain_claims.releases.cache import ReleaseError
    from keychain_claims.releases.versions import job_matrix, parse_spec
    try:
        print(json.dumps(job_matrix(args.spec, args.chunks)) if args.chunks is not None
              else "\n".join(parse_spec(args.spec)))
    except ReleaseError as exc:
        raise CliError(str(exc)) from None
    return 0


def run_changes(args) -> int:
    from keychain_claims.reports.merge import MergeError, changes
    try:
        text = changes(args.folder, args.old, args.new)
    except MergeError as exc:
        raise CliError(str(exc)) from None
    if text:
        print(text)
    else:       # stdout stays empty (watch.yml opens an issue when it is not); the person is told on stderr
        print(f"no claim's verdict differs between Claude Code {args.old} and {args.new} "
              f"({args.folder / 'release-matrix.json'})", file=sys.stderr)
    return 0


def run_history(args) -> int:
    from keychain_claims.reports import history
    from keychain_claims.releases.cache import ReleaseError
    try:
        if args.action == "run":
            from keychain_claims.releases.versions import parse_spec
            if args.chunk < 1:
                raise CliError(f"--chunk {args.chunk}: give at least 1 release per chunk")
            history.sweep(parse_spec(args.spec), args.runs, args.chunk, args.pytest,
                          say=lambda line: print(line, flush=True))
            for line in history.cost_summary(args.runs, len(history.kept_in(args.runs).published)):
                print(line)
            print(f"next: keychain-claims merge {args.runs}/*/ --output {args.runs}/merged --no-html")
        elif args.action == "render":
            from keychain_claims.claims.article import Article
            from keychain_claims.claims.ledger import Ledger
            sources = [next((f for f in (s / history.HISTORY_FILE, s / history.DOCS_FILE.name) if f.exists()),
                            s / history.HISTORY_FILE) if s.is_dir() else s for s in (args.sources or [history.DOCS_FILE])]
            for source in sources:
                if not source.exists():
                    raise CliError(f"no release history at {source}; pass a release-history.json (a run "
                                   "writes it beside claims.json) or a folder holding one")
            kept = history.fold([history.load(s) for s in sources])
            if args.commits:
                kept = history.made_on(kept, args.commits)
            if args.registry:
                kept = history.registry_snapshot(kept, Article())
            if args.sample is not None:
                kept = kept.model_copy(update={"sample": args.sample})
            for path in history.write(kept, Ledger(), args.out or history.DOCS_DIR, args.stem):
                print(f"written: {path}")
            print(history.coverage_line(kept) + (f"; {history.sample_line(kept)}" if kept.published else ""))
        else:
            for line in history.cost_summary(args.runs, args.total or len(history.kept_in(args.runs).published)):
                print(line)
    except (history.HistoryError, ReleaseError) as exc:
        raise CliError(str(exc)) from None
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="keychain-claims", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="build the static HTML report with the Allure 3 CLI")
    rep.set_defaults(run=run_report)
    rep.add_argument("--results", type=Path, default=REPORTS_DIR / "allure-results",
                     help="the run's Allure results folder (default: reports/allure-results)")
    rep.add_argument("--output", type=Path, default=REPORTS_DIR / "allure-report",
                     help="where the HTML report goes, replaced whole (default: reports/allure-report)")
    rep.add_argument("--history", type=Path, default=None,
                     help="Allure 3 history file carried from report to report (default: beside --output)")
    rep.add_argument("--claims", type=Path, default=None,
                     help="the run's claims.json (default: beside --results); article.html is written beside it")
    chk = sub.add_parser("check", help="check that the ledger, the article and the features agree")
    chk.set_defaults(run=run_check)
    chk.add_argument("--article", type=Path, default=None, help="the article (default: the vendored copy)")
    chk.add_argument("--ledger", type=Path, default=None, help="the claims ledger (default: beside the article)")
    sub.add_parser("sweep", help="remove sandboxes (and their children) left by killed runs").set_defaults(run=run_sweep)
    fid = sub.add_parser("fidelity", help="replay real macOS transcripts against the simulator: matches / comparable")
    fid.set_defaults(run=run_fidelity)
    fid.add_argument("--dir", type=Path, default=None, help="real transcripts (default fixtures/transcripts/real)")
    fid.add_argument("--verbose", action="store_true", help="show real and simulated text of each difference")
    fid.add_argument("--json", action="store_true", help="the figure and every result as JSON")
    fid.add_argument("--settled", type=Path, default=None, help="also compare settle transcripts "
                     "(`keychain-claims assumptions --settle --out DIR`) with the simulator's answers")
    bis = sub.add_parser("bisect", help="the first published release between --good and --bad where WHAT changed")
    bis.set_defaults(run=run_bisect)
    bis.add_argument("what", metavar="WHAT", help="a fingerprint name (write, spawn, ...) or a claim ID")
    bis.add_argument("--good", required=True, help="a release where WHAT has its old value")
    bis.add_argument("--bad", required=True, help="a later release (or latest) where it may differ")
    bis.add_argument("--reports-dir", type=Path, default=REPORTS_DIR / "bisect", help="where the evidence goes")
    bis.add_argument("--history", type=Path, default=None, metavar="FILE",
                     help="a release-history.json (e.g. docs/history/history.json): each release run goes into it "
                          "as its column, and a release complete there for this suite commit is not run again")
    mer = sub.add_parser("merge", help="merge result folders (allure-results/ + outcomes.json) of separate runs")
    mer.set_defaults(run=run_merge)
    mer.add_argument("folders", metavar="DIR", nargs="+", type=Path,
                     help="a run's reports folder (allure-results/ and outcomes.json in it), or a merged one")
    mer.add_argument("--output", type=Path, required=True, help="folder for the merged results, verdicts and report")
    mer.add_argument("--no-html", action="store_true", help="merge results and verdicts only, no HTML report")
    ver = sub.add_parser("versions", help="the releases a --claude-code SPEC names, in registry order")
    ver.set_defaults(run=run_versions)
    ver.add_argument("spec", metavar="SPEC", help="A..B, last:N, a version, latest, or a comma list of them")
    ver.add_argument("--chunks", type=int, default=None, metavar="N",
                     help="print a GitHub Actions job matrix (JSON) of chunks of N releases instead")
    his = sub.add_parser("history", help="the release history: run releases in resumable chunks, render it, its cost")
    his.set_defaults(run=run_history)
    hsub = his.add_subparsers(dest="action", required=True)
    hrun = hsub.add_parser("run", help="the release scenarios on SPEC, a chunk of releases per pytest run; "
                           "releases complete for this suite commit under --runs are skipped")
    hrun.add_argument("spec", metavar="SPEC", help="A..B, last:N, a version, latest, or a comma list of them")
    hrun.add_argument("--runs", type=Path, required=True, help="folder of the chunks' reports (kept between sittings)")
    hrun.add_argument("--chunk", type=int, default=5, help="releases per pytest run (default 5)")
    hrun.add_argument("--pytest", action="append", default=[], metavar="ARG",
                      help="one more argument for each chunk's pytest (repeat it), e.g. --pytest=-n2")
    hren = hsub.add_parser("render", help="write a release history as Markdown, HTML and JSON, folded with this "
                           "checkout's code")
    hren.add_argument("--from", dest="sources", type=Path, action="append", default=[], metavar="FILE",
                      help="a release-history.json or a folder holding one (repeat to fold several; "
                           "default docs/history/history.json)")
    hren.add_argument("--out", type=Path, default=None, help="where to write (default docs/history/)")
    hren.add_argument("--stem", default="history", help="file names: STEM.json/md/html (default history)")
    hren.add_argument("--registry", action="store_true",
                      help="record npm's list of releases of today and the article era (asks the registry)")
    hren.add_argument("--sample", default=None, help="the rule that chose the releases, said on the page")
    hren.add_argument("--commit", dest="commits", action="append", default=[], metavar="PREFIX",
                      help="keep only the columns a suite commit starting with PREFIX made (repeat it): a sweep's "
                           "columns without those an older suite left in the history it started from")
    hcost = hsub.add_parser("cost", help="what the chunks under DIR cost (DIR/cost.jsonl), extrapolated")
    hcost.add_argument("runs", metavar="DIR", type=Path)
    hcost.add_argument("--total", type=int, default=0, help="releases to extrapolate to (default: the registry's list)")
    chg = sub.add_parser("changes", help="claims whose verdict differs between two releases of a release matrix")
    chg.set_defaults(run=run_changes)
    chg.add_argument("folder", metavar="DIR", type=Path, help="a reports folder holding release-matrix.json")
    chg.add_argument("--from", dest="old", required=True, metavar="A",
                     help="the earlier release, a column of the matrix (e.g. 2.1.330)")
    chg.add_argument("--to", dest="new", required=True, metavar="B",
                     help="the later release, a column of the matrix (e.g. 2.1.331)")
    sub.add_parser("assumptions", add_help=False,
                   help="the macOS behaviours the simulator and the macOS backend assume, and their probes "
                        "(--settle runs them; `keychain-claims assumptions --help`)")
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["assumptions"]:          # its own parser: keychain_claims/measures/assumptions/settle.py
        from keychain_claims.measures.assumptions.settle import main as assumptions
        return assumptions(argv[1:])
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except CliError as exc:
        print(f"keychain-claims: {exc}", file=sys.stderr)
    except OSError as exc:       # a file or folder the command was pointed at: its one-line reason
        print(f"keychain-claims: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
