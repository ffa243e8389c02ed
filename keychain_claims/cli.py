"""`keychain-claims`: the suite's command line.

  keychain-claims report [--results DIR] [--output DIR]   build the static HTML report (Allure 3)
  keychain-claims check                                   ledger, article and features agree
  keychain-claims sweep                                   remove sandboxes left by killed runs
  keychain-claims fidelity [--dir DIR] [--verbose|--json] the simulator replayed on real macOS transcripts
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from keychain_claims import PROJECT_ROOT, REPORTS_DIR


class CliError(Exception):
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


def _config(output: Path, history: Path) -> Path:
    """The Allure 3 configuration for this report (history carried over through `historyPath`)."""
    import json
    import tempfile
    conf = {"name": "keychain-claims: claims of the keychain ACL-invalidation article",
            "output": str(output.resolve()), "historyPath": str(history.resolve()),
            "plugins": {"awesome": {"options": {"reportLanguage": "en"}}}}
    path = Path(tempfile.mkdtemp(prefix="allurerc-")) / "allurerc.mjs"
    path.write_text("export default " + json.dumps(conf, indent=2) + ";\n")
    return path


def report(results: Path, output: Path, history: Path | None = None) -> Path:
    if not results.is_dir():
        raise CliError(f"no Allure results at {results}; run the suite first (pytest)")
    if not any(results.glob("*-result.json")):
        raise CliError(f"{results} holds no test results; run the suite first (pytest)")
    config = _config(output, history or output.parent / "history.jsonl")
    cmd = [*_allure(), "generate", str(results), "-o", str(output), "--config", str(config)]
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True)
    shutil.rmtree(config.parent, ignore_errors=True)
    if proc.returncode != 0 or not (output / "index.html").exists():
        last = ((proc.stderr or proc.stdout).strip().splitlines() or ["no output"])[-1]
        raise CliError(f"allure generate failed: {last}")
    return output / "index.html"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="keychain-claims", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="build the static HTML report with the Allure 3 CLI")
    rep.add_argument("--results", type=Path, default=REPORTS_DIR / "allure-results")
    rep.add_argument("--output", type=Path, default=REPORTS_DIR / "allure-report")
    rep.add_argument("--history", type=Path, default=None,
                     help="Allure 3 history file carried from report to report (default: beside --output)")
    sub.add_parser("check", help="check that the ledger, the article and the features agree")
    sub.add_parser("sweep", help="remove sandboxes (and their children) left by killed runs")
    fid = sub.add_parser("fidelity", help="replay real macOS transcripts against the simulator: matches / comparable")
    fid.add_argument("--dir", type=Path, default=None, help="real transcripts (default fixtures/transcripts/real)")
    fid.add_argument("--verbose", action="store_true", help="show real and simulated text of each difference")
    fid.add_argument("--json", action="store_true", help="the figure and every result as JSON")
    args = ap.parse_args(argv)
    try:
        if args.command == "report":
            index = report(args.results, args.output, args.history)
            print(f"report: {index}  (serve it: npx allure open {args.output})")
        elif args.command == "check":
            from keychain_claims.claims.article import Article
            from keychain_claims.claims.coverage import problems
            from keychain_claims.claims.ledger import Ledger
            found = problems(Article(), Ledger())
            for line in found:
                print(line)
            return 1 if found else 0
        elif args.command == "sweep":
            from keychain_claims.harness.sandbox import sweep
            removed = sweep()
            print(f"swept {len(removed)} sandbox(es)" + "".join(f"\n  {p}" for p in removed))
        elif args.command == "fidelity":
            from keychain_claims.sim import fidelity
            if args.dir is not None and not args.dir.is_dir():
                raise CliError(f"no directory {args.dir}; give --dir a directory of real transcripts (*.json)")
            return fidelity.main(args.dir, verbose=args.verbose, as_json=args.json)
    except CliError as exc:
        print(f"keychain-claims: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a one-line reason, never a traceback
        print(f"keychain-claims: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
