"""The release history is kept from run to run (issue 30): a run of one release adds its column to
the history it finds and drops no other; only a complete run of a release replaces that release's
column; `merge` folds the histories of the folders it merges; a rerun knows which releases are
done for the same suite commit; the page shows no raw markdown and says a not-checkable reason once,
in a legend, not per row."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from keychain_claims.claims.article import Article
from keychain_claims.claims.ledger import Ledger
from keychain_claims.claims.outcomes import Outcome
from keychain_claims.reports import history
from keychain_claims.reports.publish import publish
from tests import ROOT

LEDGER = Ledger()


@pytest.fixture(autouse=True)
def no_committed_history(tmp_path, monkeypatch):
    """The committed docs/history/ is not what these tests add to: an empty one of their own."""
    monkeypatch.setattr(history, "DOCS_FILE", tmp_path / "committed" / "history.json")


def release_outcomes(release: str, result: str = "passed", only: int | None = None,
                     reason: str = "") -> list[Outcome]:
    """One outcome per release scenario of the feature set (the first `only` of them), each
    supporting CAV-REWRITE."""
    names = sorted(history.release_scenarios())[:only]
    return [Outcome(f"steps/test_features.py::{n}[{release}-sim]", n, "sim", ["CAV-REWRITE"], result, reason, release)
            for n in names]


def run(out: Path, outcomes: list[Outcome]):
    return publish(out, outcomes, LEDGER, Article(), {"sim": True}, {"sim": "simulated security(1)"})


def test_two_releases_run_one_after_the_other_leave_both_columns(tmp_path):
    out = tmp_path / "reports"
    run(out, release_outcomes("2.1.332"))
    run(out, release_outcomes("2.1.150", "failed", reason="it wrote the item twice"))
    kept = history.load(out / history.HISTORY_FILE)
    assert kept.releases() == ["2.1.150", "2.1.332"]
    text = (out / "release-history.md").read_text()
    assert "2.1.332" in text and "2.1.150" in text
    page = (out / "release-history.html").read_text()
    assert "data-release='2.1.332'" in page and "data-release='2.1.150'" in page
    # and the change between them is named with the release that shows it
    cells = {(c["claim"], c["release"]): c["verdict"] for c in kept.model_dump()["cells"]} or {
        (c["claim"], c["release"]): c["verdict"]
        for c in json.loads((out / history.HISTORY_FILE).read_text())["cells"]}
    assert cells[("CAV-REWRITE", "2.1.150")] == "fails" and cells[("CAV-REWRITE", "2.1.332")] == "holds"
    # without the registry's list, what lies between the two is not known: no release is named first
    changes = json.loads((out / history.HISTORY_FILE).read_text())["changes"]
    assert [(c["claim"], c["first"], c["search"], c["unrun_between"]) for c in changes] == [
        ("CAV-REWRITE", None, "2.1.150..2.1.332", None)]
    assert "the releases between them are not known" in page


def test_a_run_adds_to_the_committed_history_when_its_folder_has_none(tmp_path):
    committed = tmp_path / "committed"
    history.write(history.add(history.History(), history.columns_of(release_outcomes("2.0.76"), {"sim": True}, "",
                                                                    "c1")), LEDGER, committed, "history")
    out = tmp_path / "reports"
    run(out, release_outcomes("2.1.332"))
    assert history.load(out / history.HISTORY_FILE).releases() == ["2.0.76", "2.1.332"]
    assert history.load(committed / "history.json").releases() == ["2.0.76"]      # the committed one untouched


def test_only_a_complete_run_replaces_a_release_column(tmp_path):
    out = tmp_path / "reports"
    run(out, release_outcomes("2.1.332"))
    run(out, release_outcomes("2.1.332", "failed", only=2))          # partial: -k, interrupted ...
    column = history.load(out / history.HISTORY_FILE).columns["2.1.332"]
    assert column.complete and {o.result for o in column.outcomes} == {"passed"}
    run(out, release_outcomes("2.1.332", "failed"))                   # complete: replaces
    column = history.load(out / history.HISTORY_FILE).columns["2.1.332"]
    assert column.complete and {o.result for o in column.outcomes} == {"failed"}


def test_a_partial_column_says_which_scenarios_it_lacks_and_is_replaced_by_a_later_partial_one(tmp_path):
    out = tmp_path / "reports"
    run(out, release_outcomes("2.1.332", only=2))
    column = history.load(out / history.HISTORY_FILE).columns["2.1.332"]
    assert not column.complete and len(column.missing) == len(history.release_scenarios()) - 2
    run(out, release_outcomes("2.1.332", "failed", only=3))
    assert len(history.load(out / history.HISTORY_FILE).columns["2.1.332"].outcomes) == 3
    assert "Partial columns (1)" in (out / "release-history.html").read_text()


def test_merge_folds_the_histories_of_chunks_and_keeps_their_commits(tmp_path):
    from keychain_claims.reports.merge import merge
    a, b = tmp_path / "a", tmp_path / "b"
    run(a, release_outcomes("2.0.76"))
    run(b, release_outcomes("2.1.332", "failed"))
    for folder in (a, b):
        (folder / "allure-results").mkdir()
    merged = merge([a, b], tmp_path / "merged")
    kept = history.load(tmp_path / "merged" / history.HISTORY_FILE)
    assert kept.releases() == ["2.0.76", "2.1.332"] and merged.releases == ["2.0.76", "2.1.332"]
    assert {c.suite_commit for c in kept.columns.values()} == {history.suite_commit()}
    # merging the merge with one more run keeps all three
    c = tmp_path / "c"
    run(c, release_outcomes("2.1.150"))
    (c / "allure-results").mkdir()
    merge([tmp_path / "merged", c], tmp_path / "again")
    assert history.load(tmp_path / "again" / history.HISTORY_FILE).releases() == ["2.0.76", "2.1.150", "2.1.332"]


def test_a_merge_keeps_the_later_run_of_a_release_whatever_the_order_of_its_chunks():
    """Every chunk of a sweep starts from the committed history, so a release run again in one chunk
    comes back, as it was, in every other chunk: the later recorded complete column wins, in any
    order; a complete column still beats a later partial one."""
    def column(result: str, at: str, only: int | None = None) -> history.Column:
        [col] = history.columns_of(release_outcomes("0.2.9", result, only=only), {"sim": True}, "", "c")
        return col.model_copy(update={"recorded": at})
    committed = history.History(columns={"0.2.9": column("skipped", "2026-12-06T10:51:18+00:00")})
    rerun = history.add(committed, [column("passed", "2026-12-06T12:20:00+00:00")])
    for order in ([committed, rerun], [rerun, committed]):
        kept = history.fold(order).columns["0.2.9"]
        assert {o.result for o in kept.outcomes} == {"passed"}, order
    later_partial = history.History(columns={"0.2.9": column("failed", "2026-12-06T13:00:00+00:00", only=1)})
    assert {o.result for o in history.fold([rerun, later_partial]).columns["0.2.9"].outcomes} == {"passed"}
    # a new run's column replaces the old one whatever the clock said when that one was recorded
    ahead = history.History(columns={"0.2.9": column("skipped", "2099-01-01T00:00:00+00:00")})
    assert {o.result for o in history.add(ahead, [column("passed", "2026-12-06T12:20:00+00:00")])
            .columns["0.2.9"].outcomes} == {"passed"}


def test_a_rerun_skips_only_what_is_complete_for_the_same_commit():
    kept = history.add(history.History(), [
        *history.columns_of(release_outcomes("2.0.76"), {"sim": True}, "", "c1"),
        *history.columns_of(release_outcomes("2.1.150", only=1), {"sim": True}, "", "c1"),
        *history.columns_of(release_outcomes("2.1.332"), {"sim": True}, "", "c0")])
    assert history.done(kept, "c1") == {"2.0.76"} and history.done(kept, "") == set()


def test_the_page_has_no_raw_markdown_and_says_a_not_checkable_reason_once(tmp_path):
    why = "Claude Code 2.0.44 has no `claude auth logout` subcommand."
    kept = history.add(history.History(published=["2.0.30", "2.0.44", "2.0.50", "2.0.76"]), [
        *history.columns_of(release_outcomes("2.0.30"), {"sim": True}, "", "c"),
        *history.columns_of(release_outcomes("2.0.44", "skipped", reason=why), {"sim": True}, "", "c"),
        *history.columns_of(release_outcomes("2.0.76", "failed"), {"sim": True}, "", "c")])
    history.write(kept, LEDGER, tmp_path)
    page = (tmp_path / "release-history.html").read_text()
    text = re.sub(r"<[^>]+>", " ", page)
    assert "| " not in text and "**" not in text and "`" not in re.sub(r"<code>.*?</code>", "", page)
    legend = re.search(r"<h2>Why not checkable</h2>(.*?)</ul>", page, re.S)[1]
    assert "has no" in legend and page.count("<li><b>n1</b>") == 1
    # the change 2.0.30 holds -> 2.0.76 fails: 2.0.50 was not run, so the page names the range to bisect
    found = kept.model_copy()
    changes = json.loads((tmp_path / history.HISTORY_FILE).read_text())["changes"]
    assert [(c["claim"], c["from"], c["to"], c["first"], c["search"]) for c in changes] == [
        ("CAV-REWRITE", "holds", "fails", None, "2.0.30..2.0.76")]
    assert "Not yet run (1 of 4)" in page and "2.0.50" in page
    assert found.not_swept() == ["2.0.50"]


def test_a_reason_says_the_release_for_its_version_but_keeps_a_package_at_that_version(tmp_path):
    """The legend says "the release" for the release's own version, never inside `package@version`
    (2.1.120's reason named `@anthropic-ai/claude-code-darwin-arm64@the release`)."""
    why = "Claude Code 2.1.120: npm has no @anthropic-ai/claude-code-darwin-arm64@2.1.120, although it is listed."
    kept = history.add(history.History(published=["2.1.120"]), history.columns_of(
        release_outcomes("2.1.120", "skipped", reason=why), {"sim": True}, "", "c"))
    history.write(kept, LEDGER, tmp_path)
    legend = re.search(r"<h2>Why not checkable</h2>(.*?)</ul>", (tmp_path / "release-history.html").read_text(), re.S)[1]
    assert "the release: npm has no @anthropic-ai/claude-code-darwin-arm64@2.1.120" in legend, legend


def test_an_unreadable_history_is_one_line_and_left_as_it_was(tmp_path):
    out = tmp_path / "reports"
    out.mkdir()
    (out / history.HISTORY_FILE).write_text("{not json")
    done = run(out, release_outcomes("2.1.332"))
    assert "is not a release history" in done.history_problem and "\n" not in done.history_problem
    assert (out / history.HISTORY_FILE).read_text() == "{not json"
    assert (out / "claims.json").exists()


# ---------------------------------------------------------------- the page in Chromium

CHECK = ROOT / "tests" / "browser" / "history_check.cjs"
SHOTS = ROOT / "reports" / "screenshots"       # git-ignored; docs/ only on request (as tests/reports/test_browser.py)
REFRESH_DOCS = "KEYCHAIN_CLAIMS_REFRESH_DOCS"


def chromium_check(page: Path, shot: Path) -> dict:
    import shutil
    import subprocess
    if not shutil.which("chromium"):
        pytest.skip("chromium is not installed: apt-get install chromium (.ci/run does)")
    if not (ROOT / "node_modules" / "playwright-core").exists():
        pytest.skip("playwright-core is not installed: npm install (keychain-claims report does)")
    proc = subprocess.run(["node", str(CHECK), page.resolve().as_uri(), str(shot)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def many_releases(tmp_path) -> Path:
    """Fourteen releases of every row of the release scenarios: a run of agreeing ones, a change,
    not-checkable cells, the article era among them, releases of the list not run."""
    published = [f"2.1.{n}" for n in range(100, 200)]
    run_ = published[::8]
    from keychain_claims.claims.coverage import scenarios
    claims = sorted({c for ref in scenarios()
                     if "release" in ref.markers for c in ref.claims})
    columns = []
    for n, release in enumerate(run_):
        result = "passed" if n < 6 else "failed"
        outcomes = [Outcome(f"s{i}[{release}]", name, "sim", [claims[i % len(claims)]],
                            "skipped" if n == 3 and i % 2 else result,
                            "Claude Code has no `auth logout` subcommand on this release." if n == 3 else "", release)
                    for i, name in enumerate(sorted(history.release_scenarios()))]
        columns += history.columns_of(outcomes, {"sim": True}, "", "c")
    kept = history.add(history.History(published=published, published_on="2026-12-06",
                                       article_era=history.ArticleEra(release=run_[5], date="2026-06-15")), columns)
    history.write(kept, LEDGER, tmp_path / "page", "history")
    return tmp_path / "page" / "history.html"


@pytest.mark.browser
def test_a_reviewer_at_1280x800_sees_every_row_and_the_first_columns_and_no_raw_markdown(tmp_path):
    page = many_releases(tmp_path)
    found = chromium_check(page, tmp_path / "history.png")
    assert found["claims"] and found["claimsOnScreen"] == found["claims"], found
    assert found["releasesOnScreen"][:10] == found["releases"][:10], found
    assert found["raw"] == [], found["raw"]
    assert found["era"] == "2.1.140"
    assert "not checkable — n1 Claude Code has no auth logout subcommand" in found["notCheckableTitle"]
    kept = json.loads((page.parent / "history.json").read_text())
    assert sorted(map(tuple, found["cells"])) == sorted((c["claim"], c["release"], c["verdict"]) for c in kept["cells"])


@pytest.mark.browser
def test_the_committed_history_renders_whole_on_the_first_screen(tmp_path):
    """docs/history/history.html as committed: the same checks; its screenshot refreshes
    docs/history/first-screen.png only when KEYCHAIN_CLAIMS_REFRESH_DOCS=1."""
    import os
    import shutil
    committed = ROOT / "docs" / "history" / "history.html"
    if not committed.exists():
        pytest.skip("no docs/history/history.html committed yet (keychain-claims history render writes it)")
    found = chromium_check(committed, tmp_path / "first-screen.png")
    assert found["claimsOnScreen"] == found["claims"] and found["raw"] == [], found
    assert found["releasesOnScreen"][:8] == found["releases"][:8], found
    kept = json.loads((ROOT / "docs" / "history" / "history.json").read_text())
    assert sorted(map(tuple, found["cells"])) == sorted((c["claim"], c["release"], c["verdict"]) for c in kept["cells"])
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp_path / "first-screen.png", SHOTS / "history-first-screen.png")
    if os.environ.get(REFRESH_DOCS) == "1":
        shutil.copy(tmp_path / "first-screen.png", ROOT / "docs" / "history" / "first-screen.png")


def test_a_stopped_sweep_run_again_runs_only_what_is_not_complete_and_says_what_it_cost(tmp_path, monkeypatch):
    """`history run` in chunks: a chunk stopped before it wrote its results leaves the others; the
    rerun on the same commit runs only its releases; cost.jsonl has a line per chunk run."""
    import subprocess
    monkeypatch.setattr(history, "suite_commit", lambda: "abc123")
    monkeypatch.setenv("KEYCHAIN_CLAIMS_CACHE", str(tmp_path / "cache"))
    ran: list[list[str]] = []
    stop = {"2.1.3"}

    def fake_pytest(cmd, **kwargs):
        releases = cmd[cmd.index("--claude-code") + 1].split(",")
        ran.append(releases)
        out = Path(next(a for a in cmd if a.startswith("--reports-dir=")).split("=", 1)[1])
        if stop & set(releases):                     # killed before the session ended: nothing written
            return subprocess.CompletedProcess(cmd, -9, "", "Killed")
        outcomes = [o for r in releases for o in release_outcomes(r)]
        history.accumulate(out, outcomes, {"sim": True}, "", LEDGER, runs=["r"] * len(outcomes),
                           run_commits={"r": "abc123"})
        return subprocess.CompletedProcess(cmd, 0, f"{len(outcomes)} passed\n", "")
    monkeypatch.setattr(history.subprocess, "run", fake_pytest)
    runs = tmp_path / "runs"
    history.sweep(["2.1.1", "2.1.2", "2.1.3", "2.1.4", "2.1.5"], runs, 2, say=lambda line: None)
    assert ran == [["2.1.1", "2.1.2"], ["2.1.3", "2.1.4"], ["2.1.5"]]
    assert history.kept_in(runs).releases() == ["2.1.1", "2.1.2", "2.1.5"]
    stop.clear()
    ran.clear()
    history.sweep(["2.1.1", "2.1.2", "2.1.3", "2.1.4", "2.1.5"], runs, 2, say=lambda line: None)
    assert ran == [["2.1.3", "2.1.4"]]
    assert history.kept_in(runs).releases() == ["2.1.1", "2.1.2", "2.1.3", "2.1.4", "2.1.5"]
    costs = [json.loads(line) for line in (runs / history.COST_FILE).read_text().splitlines()]
    assert [c["releases"] for c in costs] == [["2.1.1", "2.1.2"], ["2.1.3", "2.1.4"], ["2.1.5"], ["2.1.3", "2.1.4"]]
    assert costs[1]["complete"] == [] and costs[3]["complete"] == ["2.1.3", "2.1.4"]
    assert all({"wall_s", "cpu_s", "downloaded_bytes", "cache_bytes", "runs_bytes"} <= set(c) for c in costs)
    summary = history.cost_summary(runs, 475)
    assert summary[0].startswith("7 releases in 4 chunk(s)") and "extrapolated to 475 releases" in summary[-1]
    # on another commit nothing is complete: all run again
    monkeypatch.setattr(history, "suite_commit", lambda: "def456")
    ran.clear()
    history.sweep(["2.1.1", "2.1.2"], runs, 2, say=lambda line: None)
    assert ran == [["2.1.1", "2.1.2"]]


@pytest.mark.parametrize("argv, says", [
    (["history", "render", "--from", "{tmp}/none"], "no release history at"),
    (["history", "render", "--from", "{tmp}/bad.json"], "is not a release history"),
    (["history", "run", "2.1.1", "--runs", "{tmp}/runs", "--chunk", "0"], "give at least 1 release per chunk"),
    (["history", "cost", "{tmp}/empty"], "cost.jsonl is missing or unreadable"),
], ids=["no-file", "not-a-history", "chunk-0", "no-cost"])
def test_bad_history_input_is_one_line(tmp_path, capsys, argv, says):
    from keychain_claims.cli import main
    (tmp_path / "bad.json").write_text('{"columns": 3}')
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and "Traceback" not in err
    assert (tmp_path / "bad.json").read_text() == '{"columns": 3}'


def test_render_folds_several_histories_into_the_folder_it_is_given(tmp_path, capsys):
    from keychain_claims.cli import main
    for n, release in enumerate(["2.0.76", "2.1.332"]):
        history.write(history.add(history.History(), history.columns_of(release_outcomes(release), {"sim": True},
                                                                        "", "c")), LEDGER, tmp_path / f"r{n}")
    assert main(["history", "render", "--from", str(tmp_path / "r0"), "--from",
                 str(tmp_path / "r1" / history.HISTORY_FILE), "--out", str(tmp_path / "docs")]) == 0
    assert history.load(tmp_path / "docs" / "history.json").releases() == ["2.0.76", "2.1.332"]
    assert "2 releases run" in capsys.readouterr().out
    # a folder holding a rendered history (docs/history/: history.json) is a source too
    assert main(["history", "render", "--from", str(tmp_path / "docs"), "--out", str(tmp_path / "again")]) == 0
    assert history.load(tmp_path / "again" / "history.json").releases() == ["2.0.76", "2.1.332"]


def test_render_keeps_only_the_columns_of_the_suite_commits_it_is_given(tmp_path, capsys):
    """A sweep's chunks start from the committed history: `--commit` renders the sweep's own columns
    without those an older suite left there (their scenarios are that suite's)."""
    from keychain_claims.cli import main
    for release, commit in (("2.0.76", "1deec6a"), ("2.1.178", "562a84f-x"), ("2.1.332", "2bb7791")):
        history.write(history.add(history.History(), history.columns_of(release_outcomes(release), {"sim": True},
                                                                        "", commit)), LEDGER, tmp_path / release)
    sources = [a for r in ("2.0.76", "2.1.178", "2.1.332") for a in ("--from", str(tmp_path / r))]
    assert main(["history", "render", *sources, "--commit", "562a84f", "--commit", "2bb7791",
                 "--out", str(tmp_path / "docs")]) == 0
    assert history.load(tmp_path / "docs" / "history.json").releases() == ["2.1.178", "2.1.332"]
    capsys.readouterr()
    assert main(["history", "render", *sources, "--commit", "fffffff", "--out", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no column of this history was made on suite commit fffffff" in err
    assert not (tmp_path / "none").exists()


def test_a_merge_takes_a_releases_complete_run_over_a_stopped_one_and_joins_two_backends(tmp_path):
    """A chunk stopped and run again leaves a partial and a complete run of a release: the merge's
    column is the complete run's alone; a Linux and a macOS run of one release are one column."""
    from keychain_claims.reports.merge import merge
    stopped, again, mac = tmp_path / "stopped", tmp_path / "again", tmp_path / "mac"
    run(stopped, release_outcomes("2.1.332", "failed", only=3))
    run(again, release_outcomes("2.1.332"))
    macos = [Outcome(o.nodeid.replace("-sim]", "-macos]"), o.scenario, "macos", o.claims, "passed", "", o.release)
             for o in release_outcomes("2.1.332")]
    publish(mac, macos, LEDGER, Article(), {"macos": False}, {"macos": "real macOS security(1)"})
    for folder in (stopped, again, mac):
        (folder / "allure-results").mkdir()
    merge([stopped, again], tmp_path / "m1")
    column = history.load(tmp_path / "m1" / history.HISTORY_FILE).columns["2.1.332"]
    assert column.complete and {o.result for o in column.outcomes} == {"passed"}
    assert len(column.outcomes) == len(history.release_scenarios())
    merge([again, mac], tmp_path / "m2")
    column = history.load(tmp_path / "m2" / history.HISTORY_FILE).columns["2.1.332"]
    assert column.complete and column.backends == {"sim": True, "macos": False}
    assert len(column.outcomes) == 2 * len(history.release_scenarios())


def test_a_change_between_two_releases_run_one_after_the_other_names_the_later_one_first(tmp_path):
    kept = history.add(history.History(published=["2.1.1", "2.1.2", "2.1.3"]), [
        *history.columns_of(release_outcomes("2.1.1"), {"sim": True}, "", "c"),
        *history.columns_of(release_outcomes("2.1.2", "failed", reason="wrote twice"), {"sim": True}, "", "c")])
    history.write(kept, LEDGER, tmp_path)
    changes = json.loads((tmp_path / history.HISTORY_FILE).read_text())["changes"]
    assert [(c["first"], c["last_before"], c["unrun_between"]) for c in changes] == [("2.1.2", "2.1.1", 0)]
    assert "<b>2.1.2</b> is the first release that shows it" in (tmp_path / "release-history.html").read_text()
    assert any("fails" in e["result"] or e["result"] == "failed" for e in changes[0]["evidence_after"])


def test_the_download_a_chunk_reports_counts_every_unit_the_cache_says(tmp_path):
    log = tmp_path / "release-cache.log"
    log.write_text("[claude-code] downloaded @anthropic-ai/claude-code@2.1.206: 21 kB in 1.5 s (0.0 MB/s)\n"
                   "[claude-code] downloaded @anthropic-ai/claude-code-darwin-arm64@2.1.206: 56 MB in 6.7 s\n"
                   "[claude-code] 2.1.206 loaded (native): 100 MB in 0.1 s, cached\n")
    assert history._downloaded(log) == 21_000 + 56_000_000
