"""Steps that read and run a real Claude Code release in the scenario's sandbox."""
from __future__ import annotations

import json
import shlex

import pytest
from pytest_bdd import given, parsers, then, when

from keychain_claims.fakes import Fakes
from keychain_claims.harness import claude_code, dump
from keychain_claims.releases import api, fingerprints, runner, standin
from keychain_claims.releases.registry import Release
from keychain_claims.reports.attach import attach
from keychain_claims.harness.world import World


_FINGERPRINTS: dict[tuple[str, str], dict] = {}


def _fingerprints(release: Release) -> dict:
    key = (release.version, str(release.root))
    if key not in _FINGERPRINTS:
        try:
            _FINGERPRINTS[key] = fingerprints.of_release(release)
        except FileNotFoundError as exc:
            pytest.skip(str(exc))
    return _FINGERPRINTS[key]


@then(parsers.re(r'the release\'s "(?P<name>[\w-]+)" fingerprint (?P<how>is|starts with) "(?P<value>[^"]+)"'))
def fingerprint_is(claude_release: Release, name: str, how: str, value: str, request: pytest.FixtureRequest):
    request.node.user_properties.append(("provenance", ["fingerprint"]))      # evidence read from the release's code
    found = _fingerprints(claude_release)[name]
    attach(f"fingerprint {name} ({claude_release.version})",
           f"status: {found.status}\nvalue: {found.value}\nexcerpt: {found.excerpt}")
    if found.status == "not found" and "not found" not in value and name != "gui-detection":
        pytest.skip(f"{claude_release.version}: fingerprint {name!r} cannot be located; not guessing")
    same = found.value == value if how == "is" else found.value.startswith(value)
    assert same, f"{claude_release.version}: {name} is {found.value!r}"


def _run(world: World, release: Release, args: str, env: dict | None = None):
    why = release.runnable_here or runner.isolation(world.backend)
    if why:
        pytest.skip(f"Claude Code {release.version}: {why}")
    world.marks["calls_before_run"] = len(world.backend.call_log(world.sandbox) or [])
    events = world.backend.prompt_events(world.sandbox)
    world.marks["prompts_before_run"] = None if events is None else len(events)
    try:
        run = runner.run(release, world.sandbox, *shlex.split(args), env=env)
    except runner.NotExercised as exc:
        pytest.skip(f"not checkable: {exc}")
    except runner.RunError as exc:
        pytest.fail(f"Claude Code {release.version}: {exc}", pytrace=False)
    attach(f"claude {args} ({release.version})", f"exit {run.status} ({run.isolation} isolation)\n"
                                                f"--- stdout ---\n{run.stdout}\n--- stderr ---\n{run.stderr}")
    seen = standin.requests(run.standin)
    if seen or standin.connects(run.standin):
        attach(f"requests at the stand-in ({release.version})",
               json.dumps({"requests": seen, "proxy": standin.connects(run.standin)}, indent=2), kind="json")
    # a release without this subcommand takes the words as a prompt: the Messages stand-in is asked
    took_as_prompt = not args.startswith("-p") and (
        run.stdout.strip() == api.TEXT or any(r["path"].startswith("/v1/messages") for r in seen))
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


# --------------------------------------------------------------------------- refresh, for real
@given("Claude Code has stored an expired credential for the current user")
def stored_expired(world: World, fakes: Fakes):
    call = world.claude_write(fakes.credential(expires_in=-3600))
    assert call.status == 0, call.transcript()


@given(r"~/.claude/.credentials.json holds the stored credential")
def file_holds_stored(world: World):
    path = world.sandbox.home / ".claude" / ".credentials.json"
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(str(world.credential.payload))
    path.chmod(0o600)
    world.marks["file_credential"] = world.credential


@given("the session has no GUI and the default keychain is another keychain, which is locked")
def other_default_locked(world: World):
    """Reads still find the item in the login keychain (first in the search list); a write without
    a keychain goes to the default keychain, which is locked: exit 36 in a session without a GUI."""
    if not world.backend.simulated:
        pytest.skip(f"needs a second keychain; the {world.backend.name} backend keeps every call on the scratch one")
    other = str(world.sandbox.keychain.path.with_name("other.keychain-db"))
    for argv in (["create-keychain", other], ["list-keychains", "-d", "user", "-s", str(world.sandbox.keychain.path), other],
                 ["default-keychain", "-s", other], ["lock-keychain", other]):
        call = world.security(*argv)
        assert call.status == 0, call.transcript()
    world.backend.set_session(world.sandbox, gui=False)


def _services(world: World) -> list[str] | None:
    """The services of every item in the scratch keychain (attributes only: no unlock needed)."""
    call = world.security("dump-keychain", str(world.sandbox.keychain.path))
    return sorted(i.get("svce") or "" for i in dump.parse(call.stdout)) if call.status == 0 else None


@when(parsers.re(r'the release refreshes the token with "(?P<args>[^"]+)"'))
def release_refreshes(world: World, claude_release: Release, fakes: Fakes, args: str):
    """The stored credential has expired: the release asks the token endpoint (the stand-in,
    through the HTTPS proxy) for a new one, then writes what it got."""
    from steps.keychain import metadata
    if claude_release.runnable_here is None and runner.isolation(world.backend) is None:
        world.marks["before"] = metadata(world)
        world.marks["items_before"] = _services(world)
    refreshed = fakes.credential()
    world.marks["refreshed"] = refreshed
    world.marks["stored"] = world.credential
    standin.set_token_answer(runner.standin_folder(world.sandbox), {
        "access_token": str(refreshed.access_token), "refresh_token": str(refreshed.refresh_token)})
    _run(world, claude_release, args)


@then("the token request arrived at the stand-in with the stored refresh token")
def token_request_arrived(world: World, claude_release: Release):
    run = world.marks["release_run"]
    asked = [r for r in standin.requests(run.standin) if r["path"].startswith("/v1/oauth/token")]
    if not asked:
        refused = [c for c in standin.connects(run.standin) if not c["answered"]]
        tls = [c for c in refused if c["method"] == "TLS"]
        through_tls = [r for r in standin.requests(run.standin) if r.get("host")]   # the CA was accepted for these
        if tls and not through_tls:
            why = f"the release rejected the stand-in's throwaway CA ({tls[0].get('error', '')})"
        elif any(c["target"].startswith("platform.claude.com") for c in standin.connects(run.standin)):
            why = "the proxy was asked for platform.claude.com but no token request came through"
        elif through_tls:
            # the proxy and the CA work for this release (it was answered through them), yet it sent no
            # token request for an expired credential: its refresh is not triggered this way
            seen = sorted({f"{r['method']} {r['host']}{r['path']}" for r in through_tls})
            pytest.skip(f"Claude Code {claude_release.version} sent no token request for an expired credential "
                        f"(it did reach the stand-in: {', '.join(seen)}): its refresh is not checkable this way")
        else:
            why = "the release never used the proxy: HTTPS_PROXY was ignored, or no refresh was sent"
        pytest.fail(f"Claude Code {claude_release.version}: no token request arrived at the stand-in: {why}",
                    pytrace=False)
    sent = asked[0].get("refresh_token")
    assert sent == str(world.marks["stored"].refresh_token), \
        f"the token request carried another refresh token than the stored one ({asked[0].get('grant_type')})"


def _release_calls(world: World) -> list[list[str]]:
    calls = world.backend.call_log(world.sandbox)
    if calls is None:
        pytest.skip(f"the {world.backend.name} backend keeps no log of security calls")
    return calls[world.marks.get("calls_before_run", 0):]


def _option(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv[:-1] else None


def _is_write(argv: list[str], world: World, service: str) -> bool:
    """`add-generic-password -U -a <user> -s <service> -X <hex>` (a keychain path may follow)."""
    return (argv[:1] == ["add-generic-password"] and "-U" in argv and "-X" in argv
            and _option(argv, "-a") == world.account and _option(argv, "-s") == service)


@then(parsers.re(r'the release (?P<tried>wrote|tried to write) the credential with "add-generic-password -U"'
                 r'(?P<stdin> through "security -i")?'))
def release_wrote(world: World, tried: str, stdin: str | None):
    writes = [c for c in _release_calls(world) if _is_write(c, world, world.service)]
    attach("keychain writes by the release", "\n".join(" ".join(c) for c in writes) or "none")
    assert writes, f"no add-generic-password -U of {world.service!r} among the release's security calls"
    if stdin:
        spawned = runner.spawned(world.marks["release_run"])
        attach("security processes the release started", "\n".join(spawned))
        assert "-i" in spawned, f"the release never started `security -i` (it started: {sorted(set(spawned))})"
        assert "add-generic-password" not in spawned, "the write came in argv, not on the stdin of security -i"
    if tried == "wrote":
        assert not any(c[:1] == ["delete-generic-password"] for c in _release_calls(world)), \
            "the release deleted an item around its write"


@then("the release raised no keychain prompt")
def release_no_prompt(world: World):
    before = world.marks.get("prompts_before_run")
    events = world.backend.prompt_events(world.sandbox)
    if events is None or before is None:
        pytest.skip(f"the {world.backend.name} backend cannot tell which prompts a release raised")
    raised = events[before:]
    assert raised == [], f"the release raised {len(raised)} keychain prompt(s): {[e.get('kind') for e in raised]}"


def _token_in(text: str) -> str | None:
    try:
        return json.loads(text)["claudeAiOauth"]["accessToken"]
    except (ValueError, KeyError, TypeError):
        return None


@then("the read returned the refreshed token")
def read_refreshed(world: World):
    call = next((c for c in reversed(world.reads) if c.status == 0), None)
    assert call is not None, "no read succeeded"
    assert _token_in(call.stdout) == str(world.marks["refreshed"].access_token), \
        "the item does not hold the token the stand-in issued"


@then(r"~/.claude/.credentials.json holds the refreshed token")
def file_refreshed(world: World):
    path = world.sandbox.home / ".claude" / ".credentials.json"
    assert path.exists(), "the release wrote no ~/.claude/.credentials.json"
    assert _token_in(path.read_text()) == str(world.marks["refreshed"].access_token), \
        "~/.claude/.credentials.json does not hold the token the stand-in issued"


@then("the items the release made besides the credential are listed")
def extra_items(world: World, claude_release: Release, request):
    before = world.marks.get("items_before")
    after = _services(world)
    assert after is not None, "dump-keychain failed: the items cannot be listed"
    extra = sorted(set(after) - set(before or []) - {world.service})
    attach(f"items made by {claude_release.version} besides the credential",
           ("\n".join(extra) or "none") + f"\n(items now: {', '.join(after)})")
    request.node.user_properties.append(("release_extra_items", extra))
    assert world.service in after, f"the credential item {world.service!r} is not in the keychain"


@then("what the release did with the refreshed token is reported")
def fallback_reported(world: World, claude_release: Release, request):
    """After a failed keychain write: where the refreshed token ended up (file, item, nowhere)
    and whether the item was deleted.  The keychain is unlocked to look."""
    refreshed, stored = world.marks["refreshed"], world.marks["stored"]
    call = world.security("unlock-keychain", str(world.sandbox.keychain.path))
    assert call.status == 0, call.transcript()
    read = world.security(*claude_code.read_argv(world.account, world.service))
    token = _token_in(read.stdout) if read.status == 0 else None
    item = ("deleted" if read.status == 44 else "holds the refreshed token" if token == str(refreshed.access_token)
            else "kept, with the token from before the refresh" if token == str(stored.access_token)
            else f"unreadable (exit {read.status})")
    path = world.sandbox.home / ".claude" / ".credentials.json"
    file_token = _token_in(path.read_text()) if path.exists() else None
    file = ("absent" if not path.exists() else
            f"the refreshed token, mode {path.stat().st_mode & 0o777:03o}" if file_token == str(refreshed.access_token)
            else "the token from before the refresh" if file_token == str(stored.access_token) else "something else")
    lost = file_token != str(refreshed.access_token) and token != str(refreshed.access_token)
    text = (f"{claude_release.version}: file: {file}; keychain item: {item}"
            + ("; the refreshed token is lost" if lost else ""))
    attach(f"after the failed keychain write ({claude_release.version})", text)
    request.node.user_properties.append(("release_fallback", text))
    assert read.status in (0, 44), read.transcript()
