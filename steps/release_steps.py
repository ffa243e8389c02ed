"""Steps that read and run a real Claude Code release in the scenario's sandbox."""
from __future__ import annotations

import json

import pytest
from pytest_bdd import given, parsers, then, when

from keychain_claims.claims.outcomes import Prop
from keychain_claims.harness.world import World
from keychain_claims.releases import api, standin
from keychain_claims.releases.release import Release
from keychain_claims.reports.attach import attach
from steps.release_runs import calls_in_run, fingerprints_of, not_exercised, run_claude, subcommand_missing


@then(parsers.re(r'the release\'s "(?P<name>[\w-]+)" fingerprint is one of (?P<values>"[^"]+"(?:, "[^"]+")+)$'))
def fingerprint_one_of(claude_release: Release, name: str, values: str, request: pytest.FixtureRequest):
    request.node.user_properties.append((Prop.PROVENANCE, ["fingerprint"]))
    found = fingerprints_of(claude_release)[name]
    attach(f"fingerprint {name} ({claude_release.version})",
           f"status: {found.status}\nvalue: {found.value}\nexcerpt: {found.excerpt}")
    if found.status == "not found":
        pytest.skip(f"{claude_release.version}: fingerprint {name!r} cannot be located; not guessing")
    allowed = [v.strip('"') for v in values.split('", "')]
    allowed = [v.strip('"') for v in allowed]
    assert found.value in allowed, f"{claude_release.version}: {name} is {found.value!r}"


@then(parsers.re(r'the release\'s "(?P<name>[\w-]+)" fingerprint (?P<how>is|starts with) "(?P<value>[^"]+)"'))
def fingerprint_is(claude_release: Release, name: str, how: str, value: str, request: pytest.FixtureRequest):
    request.node.user_properties.append((Prop.PROVENANCE, ["fingerprint"]))      # evidence read from the release's code
    found = fingerprints_of(claude_release)[name]
    attach(f"fingerprint {name} ({claude_release.version})",
           f"status: {found.status}\nvalue: {found.value}\nexcerpt: {found.excerpt}")
    if found.status == "not found" and "not found" not in value and name != "gui-detection":
        pytest.skip(f"{claude_release.version}: fingerprint {name!r} cannot be located; not guessing")
    if name == "gui-detection" and fingerprints_of(claude_release)["plaintext"].status == "not found":
        pytest.skip(f"not checkable: {claude_release.version} has no credential file store in its code "
                    "(no .credentials.json): nothing to look near")
    same = found.value == value if how == "is" else found.value.startswith(value)
    assert same, f"{claude_release.version}: {name} is {found.value!r}"


@when(parsers.re(r'I run the release with "(?P<args>[^"]+)"(?P<oauth> and CLAUDE_CODE_OAUTH_TOKEN set)?$'))
def run_release(world: World, claude_release: Release, args: str, oauth: str | None):
    if oauth and fingerprints_of(claude_release)["oauth-env-named"].status == "not found":
        pytest.skip(f"not checkable: Claude Code {claude_release.version} has no CLAUDE_CODE_OAUTH_TOKEN in its code")
    env = {"CLAUDE_CODE_OAUTH_TOKEN": str(world.sandbox.fakes.token())} if oauth else None
    run_claude(world, claude_release, args, env)


@then(parsers.re(r"the release exits (?P<status>\d+)"))
def release_exits(world: World, claude_release: Release, status: str):
    run = world.marks["release_run"]
    if run.status != int(status) and not standin.requests(run.standin) and not calls_in_run(world):
        last = (run.stderr.strip().splitlines() or [""])[-1][:160]
        pytest.skip(f"not checkable: Claude Code {claude_release.version} did not get going (exit {run.status}, "
                    f"no security call, no request at the stand-in{': ' + last if last else ''})")
    assert run.status == int(status), run


@when("the release reads the stored credential")
def release_reads(world: World, claude_release: Release):
    """Every release reads its credential before a model request; `auth status --json` reads it
    without one where the release's code defines that subcommand."""
    has_status = subcommand_missing(claude_release, "auth status --json") is None
    args = "auth status --json" if has_status else "-p ping"
    world.marks["read_via"] = args
    attach(f"how {claude_release.version} was made to read", f"claude {args} "
           f"({'its code defines auth status' if has_status else 'no auth status in its code: a model request'})")
    run_claude(world, claude_release, args)


def _stored_digests(world: World) -> dict[str, str]:
    """digest -> which stored credential it is (the keychain item's, the file's)."""
    found = {}
    for name, cred in (("the keychain item", world.credential), ("the file", world.marks.get("file_credential"))):
        if cred is not None:
            found[api.credential_digest(str(cred.access_token))] = name
    return found


SSH = {"SSH_CONNECTION": "127.0.0.1 50022 127.0.0.1 22", "SSH_CLIENT": "127.0.0.1 50022 22",
       "SSH_TTY": "/dev/pts/9"}


def _model_requests(run) -> list[dict]:
    return [r for r in standin.requests(run.standin) if r["path"].startswith("/v1/messages")]


@given("the release has made a model request in the plain session")
def control_run(world: World, claude_release: Release) -> None:
    """A first request in the sandbox's plain session: it must reach the keychain, or the harness did not
    drive the release's macOS code path and nothing can be concluded from the second."""
    run_claude(world, claude_release, "-p ping")
    why = not_exercised(world, claude_release, "its choice of store")
    if why:
        pytest.skip(f"not checkable: {why} (the control run, in the plain session)")
    world.marks["requests_before_session"] = len(_model_requests(world.marks["release_run"]))
    world.marks["session"] = {}


@when("the session is an SSH session: no GUI, the login keychain locked")
def ssh_session(world: World):
    """What the keychain is in an SSH session: no GUI to draw a dialog, and the login keychain locked
    (a GUI login unlocks it, sshd does not; anthropics/claude-code#9403).  The variables sshd sets come
    along; the releases' code has no session check, so they change nothing by themselves."""
    world.session.set_gui(gui=False)
    call = world.security("lock-keychain", str(world.sandbox.keychain.path))
    assert call.status == 0, call.transcript()
    world.marks["session"] = {**SSH, "what": "no GUI; login keychain locked"}


@when("the session is a tmux session of the GUI login")
def tmux_session(world: World):
    """tmux started in a GUI login: the keychain stays unlocked, tmux sets TMUX and TMUX_PANE."""
    world.marks["session"] = {"TERM": "screen-256color", "TMUX_PANE": "%0",
                              "TMUX": f"{world.sandbox.tmp}/tmux-0/default,4242,0",
                              "what": "GUI login, keychain unlocked"}


@when("the release makes a model request")
def model_request(world: World, claude_release: Release):
    session = dict(world.marks.get("session") or {})
    what = session.pop("what", "the plain session")
    attach(f"session of {claude_release.version}'s request",
           what + "\n" + "\n".join(f"{k}={v}" for k, v in session.items()))
    run_claude(world, claude_release, "-p ping", session or None)


@then(parsers.re(r"the model request carried (?P<want>the file's|the keychain item's) credential, not (?:the keychain "
                 r"item's|the file's)"))
def carried(world: World, claude_release: Release, want: str):
    run = world.marks["release_run"]
    sent = _model_requests(run)[world.marks.get("requests_before_session", 0):]
    if not sent:
        pytest.skip(f"not checkable: Claude Code {claude_release.version} sent no model request in the second "
                    f"session (exit {run.status})")
    stored = _stored_digests(world)
    used = [stored.get(r.get("credential"), "no stored credential") for r in sent]
    attach(f"credential of the model request in the second session ({claude_release.version})",
           f"{len(sent)} model request(s); carried: {', '.join(used)}")
    expected = "the file" if want == "the file's" else "the keychain item"
    assert used[-1] == expected, f"the model request carried {used[-1]}"


@then("the release reports it is logged in")
def logged_in(world: World, claude_release: Release):
    run = world.marks["release_run"]
    if run.argv[:1] == ["-p"]:
        sent = [r for r in standin.requests(run.standin) if r["path"].startswith("/v1/messages")]
        if not sent:
            why = not_exercised(world, claude_release, "its read")
            if why:
                pytest.skip(f"not checkable: {why}")
            pytest.fail(f"Claude Code {claude_release.version} sent no model request (exit {run.status})", pytrace=False)
        stored = _stored_digests(world)
        used = [stored[r["credential"]] for r in sent if r.get("credential") in stored]
        attach(f"credential of the model request ({claude_release.version})",
               f"{len(sent)} model request(s); carried: {', '.join(used) or 'no stored credential'}")
        assert used, "the model request carried none of the stored credentials (it is not logged in with them)"
        return
    try:
        state = json.loads(run.stdout)
    except ValueError:
        why = not_exercised(world, claude_release, "its login state")
        if why:
            pytest.skip(f"not checkable: {why}")
        pytest.fail(f"auth status printed no JSON (exit {run.status})", pytrace=False)
    if state.get("loggedIn") is not True:
        why = not_exercised(world, claude_release, "its login state")
        if why:
            pytest.skip(f"not checkable: {why}")
    assert state.get("loggedIn") is True, f"loggedIn={state.get('loggedIn')}"


@then("the release reports it is not logged in")
def logged_out(world: World, claude_release: Release):
    """The release's own word on its login state after a read that found no credential: `auth status
    --json` says loggedIn false; a model request carries none of the credentials stored before."""
    run = world.marks.get("release_run")
    assert run is not None, "the release did not run"
    why = not_exercised(world, claude_release, "its login state")
    if why:
        pytest.skip(f"not checkable: {why}")
    if run.argv[:1] == ["-p"]:
        stored = _stored_digests(world)
        used = [r for r in _model_requests(run) if r.get("credential") in stored]
        assert not used, "a model request carried a stored credential: the release is still logged in"
        return
    try:
        state = json.loads(run.stdout)
    except ValueError:
        pytest.fail(f"auth status printed no JSON (exit {run.status})", pytrace=False)
    assert state.get("loggedIn") is False, f"loggedIn={state.get('loggedIn')}"


@then(parsers.re(r'the release called security "(?P<argv>[^"]+)"'))
def called_security(world: World, claude_release: Release, argv: str):
    calls = calls_in_run(world)
    if calls is None:
        pytest.skip(f"the {world.backend.name} backend keeps no log of security calls")
    why = not_exercised(world, claude_release)
    if why:
        pytest.skip(f"not checkable: {why}")
    head, _, service = argv.replace("<user>", world.account).replace("<service>", world.service).partition(" -s ")
    want = [*head.split(" "), "-s", service]
    assert want in calls, f"no such call among the release's {len(calls)} security calls"


@then(parsers.re(r"~/\.claude\.json exists"))
def config_exists(world: World):
    assert (world.sandbox.home / ".claude.json").exists()

