"""Running a real Claude Code release in the scenario's sandbox, and what a run can be evidence of:
shared by the release steps (release_steps.py, refresh_steps.py) and the field steps."""
from __future__ import annotations

import json
import shlex

import pytest

from keychain_claims.harness.world import World
from keychain_claims.releases import api, fingerprints, runner, standin
from keychain_claims.releases.release import Release
from keychain_claims.reports.attach import attach

def fingerprints_of(release: Release) -> dict:
    """The release's fingerprints (read from its code once per loaded release: the run's release
    object keeps them); a skip when its code is not there."""
    if release.fingerprints is None:
        try:
            release.fingerprints = fingerprints.of_release(release)
        except FileNotFoundError as exc:
            pytest.skip(str(exc))
    return release.fingerprints


def subcommand_missing(release: Release, args: str) -> str | None:
    """Why `claude <args>` cannot be run on this release, read from its code (`auth status`,
    `auth logout` are commander subcommands most of history lacks), else None."""
    words = args.split()
    if words[:1] != ["auth"] or len(words) < 2:
        return None
    found = fingerprints_of(release)["subcommands"]
    if f"auth {words[1]}" in found.value.split(", "):
        return None
    return f"Claude Code {release.version} has no `claude auth {words[1]}` (its code defines {found.value}): not checkable with this release"


def run_claude(world: World, release: Release, args: str, env: dict | None = None):
    """`claude <args>` in the sandbox, attached to the report; a skip with the reason when this
    release cannot be run so here."""
    why = release.runnable_here or runner.isolation(world.backend)
    if why:
        pytest.skip(f"Claude Code {release.version}: {why}")
    missing = subcommand_missing(release, args)
    if missing:
        pytest.skip(missing)
    if world.sandbox.getenv("CLAUDE_CONFIG_DIR") and fingerprints_of(release)["config-dir-hash"].status == "not found":
        pytest.skip(f"not checkable: Claude Code {release.version} names its item with no hash of CLAUDE_CONFIG_DIR "
                    "(no config-dir hash in its code), so a credential stored under the hashed name is not its own")
    world.marks["calls_before_run"] = len(world.session.call_log() or [])
    events = world.session.prompt_events()
    world.marks["prompts_before_run"] = None if events is None else len(events)
    try:
        run = runner.run(release, world.sandbox, *shlex.split(args), env=env)
    except runner.NotExercised as exc:
        if exc.output:
            attach(f"claude {args} ({release.version})", exc.output)
        attach_standin(release, exc.standin)
        pytest.skip(f"not checkable: {exc}")
    except runner.RunError as exc:
        pytest.fail(f"Claude Code {release.version}: {exc}", pytrace=False)
    attach(f"claude {args} ({release.version})", run.transcript())
    seen = attach_standin(release, run.standin)
    # a release without this subcommand takes the words as a prompt: the Messages stand-in is asked
    took_as_prompt = not args.startswith("-p") and (
        run.stdout.strip() == api.TEXT or any(r["path"].startswith("/v1/messages") for r in seen))
    if took_as_prompt or (run.status != 0 and ("unknown option" in run.stderr or "unknown command" in run.stderr)):
        pytest.skip(f"Claude Code {release.version} has no `claude {args}`: not checkable with this release")
    world.marks["release_run"] = run
    return run


def attach_standin(release: Release, folder) -> list[dict]:
    """What reached the stand-in in a run (requests, and the proxy's CONNECTs), attached to the
    report when anything did; the requests."""
    if folder is None:
        return []
    seen, proxy = standin.requests(folder), standin.connects(folder)
    if seen or proxy:
        attach(f"requests at the stand-in ({release.version})",
               json.dumps({"requests": seen, "proxy": proxy}, indent=2), kind="json")
    return seen


def option(argv: list[str], flag: str) -> str | None:
    """The value after `flag` in a logged `security` argv, or None."""
    return argv[argv.index(flag) + 1] if flag in argv[:-1] else None


def calls_in_run(world: World) -> list[list[str]] | None:
    """The `security` calls the last release run made (None: the backend keeps no log)."""
    calls = world.session.call_log()
    return None if calls is None else calls[world.marks.get("calls_before_run", 0):]


def not_exercised(world: World, release: Release, what: str = "the keychain") -> str | None:
    """Why the last run cannot count as evidence about `what`, or None.  A run that made no
    `security` call at all never reached the keychain: the harness did not drive its macOS code
    path, which is no statement about the release.  A run whose calls never named a `-credentials`
    item (0.2.x asks only for `Claude Code`, an API key) reached the keychain for another credential
    than the one the article is about: no statement about that one either."""
    run = world.marks["release_run"]
    calls = calls_in_run(world)
    if calls is None:
        return None
    if calls:
        asked = [s for s in (option(argv, "-s") for argv in calls) if s is not None]
        if any(service.endswith("-credentials") or "-credentials-" in service for service in asked):
            return None
        named = ", ".join(f"`{s}`" for s in dict.fromkeys(asked)) or "no item by name"
        return (f"Claude Code {release.version} asked the keychain only for {named}, never for a `-credentials` item "
                f"(the OAuth credential the article is about, `{world.service}` here): {what} not checkable with "
                "this release")
    seen = standin.requests(run.standin)
    last = (run.stderr.strip().splitlines() or [""])[-1][:160]
    if run.status != 0 and not seen:
        return (f"Claude Code {release.version} did not get going (exit {run.status}, no security call, no request "
                f"at the stand-in{': ' + last if last else ''}): {what} not checkable")
    return (f"Claude Code {release.version} never reached the keychain (no security call in `claude "
            f"{' '.join(run.argv)}`, exit {run.status}): {what} not checkable with this release here")
