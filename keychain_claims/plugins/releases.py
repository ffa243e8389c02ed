"""`--claude-code SPEC` (default `latest`, env KEYCHAIN_CLAIMS_CLAUDE_CODE): scenarios tagged
@release run once per release (`[2.1.81]` in the id, an Allure parameter); with `none` they
skip, saying so.  The releases are resolved at configure: an exact version is its own version
there, so a finding scoped to releases is decided at collection (plugins/ledger.py); a tag or a
path is a version only once loaded, and its scoped findings are decided at setup.  RELEASES in
`config.stash` holds them, and the run's own `cache.CacheRun`: the release cache's lines and holds
of this run, not of the process."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from keychain_claims.claims.outcomes import NO_RELEASE, Prop
from keychain_claims.plugins.state import RELEASES, Releases, release_of, worker
from keychain_claims.releases import cache
from keychain_claims.releases.cache import ReleaseError, let_go, progress
from keychain_claims.releases.registry import load
from keychain_claims.releases.release import Release
from keychain_claims.releases.spec import is_version
from keychain_claims.releases.versions import parse_spec

DEFAULT = "latest"
OFF = "none"
CACHE_LINES = "release-cache.log"    # in the reports folder: every line the release cache said


def configure(config: pytest.Config) -> None:
    spec = config.getoption("claude_code")
    if spec is None:
        spec = os.environ.get("KEYCHAIN_CLAIMS_CLAUDE_CODE") or DEFAULT
    state = config.stash[RELEASES] = Releases()
    try:
        state.specs = [] if spec.strip().lower() == OFF else parse_spec(spec)
    except ReleaseError as exc:
        raise pytest.UsageError(str(exc)) from None
    state.versions = {s: s for s in state.specs if is_version(s)}
    cache.begin_run(state.cache)
    config.pluginmanager.register(CacheLines(state.cache_lines), "keychain-claims-release-cache-lines")


def unconfigure(config: pytest.Config) -> None:
    """The run is over: the releases it still holds may be evicted again."""
    state = config.stash.get(RELEASES, None)
    if state is not None:
        cache.end_run(state.cache)


def pytest_collection_finish(session: pytest.Session) -> None:
    """A run with release scenarios shows the release cache's lines on the terminal."""
    if session.config.stash[RELEASES].specs and any(
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
    config.stash[RELEASES].cache.reporters[:] = [show]


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_apply_tag(tag: str, function):
    if tag == "release":
        pytest.mark.release(function)
        pytest.mark.usefixtures("claude_release")(function)
        return True
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "claude_release" in metafunc.fixturenames:
        specs: list[str | None] = [*metafunc.config.stash[RELEASES].specs] or [None]
        metafunc.parametrize("claude_release", specs, ids=[s or NO_RELEASE for s in specs],
                             indirect=True, scope="session")


@pytest.fixture(scope="session")
def claude_release(request: pytest.FixtureRequest):
    spec = request.param
    if spec is None:
        pytest.skip("release scenarios are off (--claude-code none): they need a Claude Code release")
    state = request.config.stash[RELEASES]
    if spec not in state.loaded:
        try:
            release = state.loaded[spec] = load(spec)
            state.versions.setdefault(spec, release.version)
        except ReleaseError as exc:
            state.loaded[spec] = str(exc)
            progress(f"Claude Code {spec}: {exc}")
        except Exception as exc:       # a crash loading it is never evidence: the release is not checkable
            state.loaded[spec] = f"could not be loaded ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})"
            progress(f"Claude Code {spec}: {state.loaded[spec]}")
    loaded = state.loaded[spec]
    if isinstance(loaded, str):
        pytest.skip(f"Claude Code {spec}: {loaded}")
    yield loaded
    let_go(loaded)          # done with it: the cache may evict it to make room for the next


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    per_release, spec = release_of(item)
    if per_release:
        spec = spec or NO_RELEASE
        state = item.config.stash[RELEASES]
        loaded = state.loaded.get(spec)
        version = loaded.version if isinstance(loaded, Release) else spec
        if (Prop.RELEASE, version) not in report.user_properties:
            report.user_properties.append((Prop.RELEASE, version))
        if worker(item.config) and call.when == "setup":
            for line in state.cache.notes:
                if (Prop.RELEASE_CACHE, line) not in report.user_properties:
                    report.user_properties.append((Prop.RELEASE_CACHE, line))


class CacheLines:
    """Registered per run: the release cache's lines xdist workers send with their reports."""
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def pytest_runtest_logreport(self, report) -> None:
        for name, value in getattr(report, "user_properties", ()):
            if name == Prop.RELEASE_CACHE and value not in self.lines:
                self.lines.append(value)


def write_cache_lines(session: pytest.Session) -> None:
    """The release cache's lines of this run (its workers' too) go beside the verdicts."""
    if not worker(session.config):
        state = session.config.stash[RELEASES]
        notes = state.cache.notes
        lines = notes + [line for line in state.cache_lines if line not in notes]
        out = Path(session.config.getoption("reports_dir", "reports") or "reports")
        if lines and state.specs:
            try:
                out.mkdir(parents=True, exist_ok=True)
                (out / CACHE_LINES).write_text("\n".join(lines) + "\n")
            except OSError:
                pass
