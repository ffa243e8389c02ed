"""Steps that read and run a real Claude Code release in the scenario's sandbox."""
from __future__ import annotations

import json
import shlex
from functools import lru_cache
from pathlib import Path

import pytest
from pytest_bdd import parsers, then, when

from keychain_claims.releases import api, fingerprints, runner
from keychain_claims.releases.registry import Release
from keychain_claims.reports.attach import attach
from keychain_claims.harness.world import World


@lru_cache(maxsize=8)
def _fingerprints(path: str) -> dict:
    return fingerprints.read(Path(path))


def _source(release: Release) -> Path:
    if release.bundle:
        return release.bundle
    files = [p for p in release.root.rglob("*") if p.is_file()]
    if not files:
        pytest.skip(f"{release.version}: the package holds no file to read; its layout changed")
    return max(files, key=lambda p: p.stat().st_size)          # the native binary


@then(parsers.re(r'the release\'s "(?P<name>[\w-]+)" fingerprint is "(?P<value>[^"]+)"'))
def fingerprint_is(claude_release: Release, name: str, value: str, request: pytest.FixtureRequest):
    request.node.user_properties.append(("provenance", ["fingerprint"]))      # evidence read from the release's code
    found = _fingerprints(str(_source(claude_release)))[name]
    attach(f"fingerprint {name} ({claude_release.version})",
           f"status: {found.status}\nvalue: {found.value}\nexcerpt: {found.excerpt}")
    if found.status == "not found" and "not found" not in value and name != "gui-detection":
        pytest.skip(f"{claude_release.version}: fingerprint {name!r} cannot be located; not guessing")
    assert found.value == value, f"{claude_release.version}: {name} is {found.value!r}"


def _run(world: World, release: Release, args: str, env: dict | None = None):
    why = release.runnable_here or runner.isolation()
    if why:
        pytest.skip(f"Claude Code {release.version}: {why}")
    run = runner.run(release, world.sandbox, *shlex.split(args), env=env)
    attach(f"claude {args} ({release.version})", f"exit {run.status}\n--- stdout ---\n{run.stdout}\n"
                                                f"--- stderr ---\n{run.stderr}")
    took_as_prompt = not args.startswith("-p") and run.stdout.strip() == api.TEXT   # answered by the API stand-in
    if took_as_prompt or (run.status != 0 and ("unknown option" in run.stderr or "unknown command" in run.stderr)):
        pytest.skip(f"Claude Code {release.version} has no `claude {args}`: not checkable with this release")
    world.marks["release_run"] = run
    return run


@when(parsers.re(r'I run the release with "(?P<args>[^"]+)"(?P<oauth> and CLAUDE_CODE_OAUTH_TOKEN set)?$'))
def run_release(world: World, claude_release: Release, args: str, oauth: str | None):
    env = {"CLAUDE_CODE_OAUTH_TOKEN": str(world.sandbox.fakes.token())} if oauth else None
    _run(world, claude_release, args, env)


@then(parsers.re(r"the release exits (?P<status>\d+)"))
def release_exits(world: World, status: str):
    assert world.marks["release_run"].status == int(status), world.marks["release_run"]


@then("the release reports it is logged in")
def logged_in(world: World):
    run = world.marks["release_run"]
    try:
        state = json.loads(run.stdout)
    except ValueError:
        pytest.fail(f"auth status printed no JSON (exit {run.status})")
    assert state.get("loggedIn") is True, f"loggedIn={state.get('loggedIn')}"


@then(parsers.re(r'the release called security "(?P<argv>[^"]+)"'))
def called_security(world: World, argv: str):
    calls = world.backend.call_log(world.sandbox)
    if calls is None:
        pytest.skip(f"the {world.backend.name} backend keeps no log of security calls")
    head, _, service = argv.replace("<user>", world.account).replace("<service>", world.service).partition(" -s ")
    want = [*head.split(" "), "-s", service]
    assert want in calls, f"no such call among {len(calls)} security calls"


@then(parsers.re(r"~/\.claude\.json exists"))
def config_exists(world: World):
    assert (world.sandbox.home / ".claude.json").exists()
