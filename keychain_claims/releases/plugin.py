"""`--claude-code SPEC` (default `latest`, env KEYCHAIN_CLAIMS_CLAUDE_CODE): scenarios tagged
@release run once per release (`[2.1.81]` in the id, an Allure parameter); with `none` they
skip, saying so."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from keychain_claims.releases import cache
from keychain_claims.releases.cache import NOTES, ReleaseError, let_go, progress
from keychain_claims.releases.order import in_releases
from keychain_claims.releases.registry import load
from keychain_claims.releases.release import Release
from keychain_claims.releases.versions import parse_spec

RELEASES_KEY = pytest.StashKey[list]()
DEFAULT = "latest"
MATRIX: list[dict] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("keychain-claims").addoption(
        "--claude-code", default=None, metavar="SPEC",
        help="Claude Code releases to test: a version, `latest` (the default; env KEYCHAIN_CLAIMS_CLAUDE_CODE), "
             "a comma list, a path to an installed claude, or `none` to turn the release scenarios off")


OFF = "none"


def pytest_configure(config: pytest.Config) -> None:
    spec = config.getoption("claude_code")
    if spec is None:
        spec = os.environ.get("KEYCHAIN_CLAIMS_CLAUDE_CODE") or DEFAULT
    try:
        config.stash[RELEASES_KEY] = [] if spec.strip().lower() == OFF else parse_spec(spec)
    except ReleaseError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_collection_finish(session: pytest.Session) -> None:
    """A run with release scenarios shows the release cache's lines on the terminal."""
    if session.config.stash.get(RELEASES_KEY, None) and any(
            "claude_release" in getattr(item, "fixturenames", ()) for item in session.items):
        _show_cache_lines(session.config)


def _show_cache_lines(config: pytest.Config) -> None:
    """What the release cache does (downloads, releases loaded, repairs, offline fallbacks) goes
    to the terminal as it happens, past pytest's capture, with or without -s."""
    def show(line: str) -> None:
        capture = config.pluginmanager.getplugin("capturemanager")
        if capture is not None:
            with capture.global_and_fixture_disabled():
                print(line, file=sys.stderr, flush=True)
        else:
            print(line, file=sys.__stderr__, flush=True)
    cache.REPORTERS[:] = [show]
    config.add_cleanup(lambda: cache.REPORTERS.clear())


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_apply_tag(tag: str, function):
    if tag == "release":
        pytest.mark.release(function)
        pytest.mark.usefixtures("claude_release")(function)
        return True
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "claude_release" in metafunc.fixturenames:
        specs = metafunc.config.stash[RELEASES_KEY] or [None]
        metafunc.parametrize("claude_release", specs, ids=[s or "no-release" for s in specs],
                             indirect=True, scope="session")


_LOADED: dict[str, Release | str] = {}


@pytest.fixture(scope="session")
def claude_release(request: pytest.FixtureRequest):
    spec = request.param
    if spec is None:
        pytest.skip("release scenarios are off (--claude-code none): they need a Claude Code release")
    if spec not in _LOADED:
        try:
            _LOADED[spec] = load(spec)
        except ReleaseError as exc:
            _LOADED[spec] = str(exc)
            progress(f"Claude Code {spec}: {exc}")
    loaded = _LOADED[spec]
    if isinstance(loaded, str):
        pytest.skip(f"Claude Code {spec}: {loaded}")
    yield loaded
    let_go(loaded)          # done with it: the cache may evict it to make room for the next


CACHE_LINES = "release-cache.log"    # in the reports folder: every line the release cache said


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The release cache's lines of this run (its workers' too) go beside the verdicts."""
    if not hasattr(session.config, "workerinput"):
        lines = NOTES + [l for l in _WORKER_LINES if l not in NOTES]
        out = Path(session.config.getoption("reports_dir", "reports") or "reports")
        if lines and session.config.stash.get(RELEASES_KEY, None):
            try:
                out.mkdir(parents=True, exist_ok=True)
                (out / CACHE_LINES).write_text("\n".join(lines) + "\n")
            except OSError:
                pass


_WORKER_LINES: list[str] = []


def pytest_runtest_logreport(report) -> None:
    for name, value in getattr(report, "user_properties", ()):
        if name == "release-cache" and value not in _WORKER_LINES:
            _WORKER_LINES.append(value)


SCOPED_KEY = pytest.StashKey[list]()


def in_range(version: str, releases: str) -> bool:
    """Whether `version` is in a ledger finding's `releases`: comparators joined by commas or
    spaces (`>=2.1.331`, `>=2.1.113 <2.2`), or an exact version."""
    return in_releases(version, releases)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """A ledger finding with `releases` holds only for those releases: its strict xfail (added for
    every release by the top-level plugin) is taken off here and put back at setup, once the
    release's version is known (`latest` is only a version then)."""
    from keychain_claims.plugin import BACKEND_KEY, LEDGER_KEY, scenario_of
    ledger, backend = config.stash.get(LEDGER_KEY, None), config.stash.get(BACKEND_KEY, None)
    if ledger is None or backend is None:
        return
    for item in items:
        callspec = getattr(item, "callspec", None)
        template = scenario_of(item) if callspec and "claude_release" in callspec.params else None
        if template is None:
            continue
        scoped = [(c, f) for c, f in ledger.findings_for(template.name, backend.name) if f.releases]
        if not scoped:
            continue
        reasons = {f"recorded contradiction of {c.id} on backend {backend.name}: {f.evidence}" for c, f in scoped}
        item.own_markers[:] = [m for m in item.own_markers
                               if not (m.name == "xfail" and m.kwargs.get("reason") in reasons)]
        item.stash[SCOPED_KEY] = [(c.id, f.releases, f.evidence) for c, f in scoped]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    yield
    scoped = item.stash.get(SCOPED_KEY, None)
    loaded = _LOADED.get(item.callspec.params.get("claude_release")) if scoped else None
    if not isinstance(loaded, Release):
        return
    for claim, releases, evidence in scoped:
        if in_range(loaded.version, releases):
            item.add_marker(pytest.mark.xfail(
                strict=True, raises=AssertionError,
                reason=f"recorded contradiction of {claim} for releases {releases} ({loaded.version}): {evidence}"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    callspec = getattr(item, "callspec", None)
    if callspec and "claude_release" in callspec.params:
        spec = callspec.params["claude_release"] or "no-release"
        loaded = _LOADED.get(spec)
        version = loaded.version if isinstance(loaded, Release) else spec
        if ("release", version) not in report.user_properties:
            report.user_properties.append(("release", version))
        if hasattr(item.config, "workerinput") and call.when == "setup":
            for line in NOTES:
                if ("release-cache", line) not in report.user_properties:
                    report.user_properties.append(("release-cache", line))


from keychain_claims.reports.matrix import write_matrix  # noqa: E402,F401 - moved; callers keep working
