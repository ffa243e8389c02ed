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
from keychain_claims.redact import redact
from keychain_claims.reports.attach import attach
from keychain_claims.harness.world import World
from keychain_claims.claims.outcomes import Prop


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
    request.node.user_properties.append((Prop.PROVENANCE, ["fingerprint"]))      # evidence read from the release's code
    found = _fingerprints(claude_release)[name]
    attach(f"fingerprint {name} ({claude_release.version})",
           f"status: {found.status}\nvalue: {found.value}\nexcerpt: {found.excerpt}")
    if found.status == "not found" and "not found" not in value and name != "gui-detection":
        pytest.skip(f"{claude_release.version}: fingerprint {name!r} cannot be located; not guessing")
    if name == "gui-detection" and _fingerprints(claude_release)["plaintext"].status == "not found":
        pytest.skip(f"not checkable: {claude_release.version} has no credential file store in its code "
                    "(no .credentials.json): nothing to look near")
    same = found.value == value if how == "is" else found.value.startswith(value)
    assert same, f"{claude_release.version}: {name} is {found.value!r}"


def _subcommand_missing(release: Release, args: str) -> str | None:
    """Why `claude <args>` cannot be run on this release, read from its code (`auth status`,
    `auth logout` are commander subcommands most of history lacks), else None."""
    words = args.split()
    if words[:1] != ["auth"] or len(words) < 2:
        return None
    found = _fingerprints(release)["subcommands"]
    if f"auth {words[1]}" in found.value.split(", "):
        return None
    return f"Claude Code {release.version} has no `claude auth {words[1]}` (its code defines {found.value}): not checkable with this release"


def _run(world: World, release: Release, args: str, env: dict | None = None):
    why = release.runnable_here or runner.isolation(world.backend)
    if why:
        pytest.skip(f"Claude Code {release.version}: {why}")
    missing = _subcommand_missing(release, args)
    if missing:
        pytest.skip(missing)
    if world.sandbox.getenv("CLAUDE_CONFIG_DIR") and _fingerprints(release)["config-dir-hash"].status == "not found":
        pytest.skip(f"not checkable: Claude Code {release.version} names its item with no hash of CLAUDE_CONFIG_DIR "
                    "(no config-dir hash in its code), so a credential stored under the hashed name is not its own")
    world.marks["calls_before_run"] = len(world.backend.call_log(world.sandbox) or [])
    events = world.backend.prompt_events(world.sandbox)
    world.marks["prompts_before_run"] = None if events is None else len(events)
    try:
        run = runner.run(release, world.sandbox, *shlex.split(args), env=env)
    except runner.NotExercised as exc:
        pytest.skip(f"not checkable: {exc}")
    except runner.RunError as exc:
        pytest.fail(f"Claude Code {release.version}: {exc}", pytrace=False)
    attach(f"claude {args} ({release.version})", f"exit {run.status} ({run.isolation} isolation; "
                                                f"/tmp: {runner.tmp_confinement()}"
                                                f"{'; ' + run.started if run.started else ''})\n"
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
    if oauth and _fingerprints(claude_release)["oauth-env-named"].status == "not found":
        pytest.skip(f"not checkable: Claude Code {claude_release.version} has no CLAUDE_CODE_OAUTH_TOKEN in its code")
    env = {"CLAUDE_CODE_OAUTH_TOKEN": str(world.sandbox.fakes.token())} if oauth else None
    _run(world, claude_release, args, env)


def _calls_in_run(world: World) -> list[list[str]] | None:
    """The `security` calls the last release run made (None: the backend keeps no log)."""
    calls = world.backend.call_log(world.sandbox)
    return None if calls is None else calls[world.marks.get("calls_before_run", 0):]


def _not_exercised(world: World, release: Release, what: str = "the keychain") -> str | None:
    """Why the last run cannot count as evidence about `what`, or None.  A run that made no
    `security` call at all never reached the keychain: the harness did not drive its macOS code
    path, which is no statement about the release."""
    run = world.marks["release_run"]
    calls = _calls_in_run(world)
    if calls is None or calls:
        return None
    seen = standin.requests(run.standin)
    last = (run.stderr.strip().splitlines() or [""])[-1][:160]
    if run.status != 0 and not seen:
        return (f"Claude Code {release.version} did not get going (exit {run.status}, no security call, no request "
                f"at the stand-in{': ' + last if last else ''}): {what} not checkable")
    return (f"Claude Code {release.version} never reached the keychain (no security call in `claude "
            f"{' '.join(run.argv)}`, exit {run.status}): {what} not checkable with this release here")


@then(parsers.re(r"the release exits (?P<status>\d+)"))
def release_exits(world: World, claude_release: Release, status: str):
    run = world.marks["release_run"]
    if run.status != int(status) and not standin.requests(run.standin) and not _calls_in_run(world):
        last = (run.stderr.strip().splitlines() or [""])[-1][:160]
        pytest.skip(f"not checkable: Claude Code {claude_release.version} did not get going (exit {run.status}, "
                    f"no security call, no request at the stand-in{': ' + last if last else ''})")
    assert run.status == int(status), run


@when("the release reads the stored credential")
def release_reads(world: World, claude_release: Release):
    """Every release reads its credential before a model request; `auth status --json` reads it
    without one where the release's code defines that subcommand."""
    has_status = _subcommand_missing(claude_release, "auth status --json") is None
    args = "auth status --json" if has_status else "-p ping"
    world.marks["read_via"] = args
    attach(f"how {claude_release.version} was made to read", f"claude {args} "
           f"({'its code defines auth status' if has_status else 'no auth status in its code: a model request'})")
    _run(world, claude_release, args)


def _stored_digests(world: World) -> dict[str, str]:
    """digest -> which stored credential it is (the keychain item's, the file's)."""
    found = {}
    for name, cred in (("the keychain item", world.credential), ("the file", world.marks.get("file_credential"))):
        if cred is not None:
            found[api.credential_digest(str(cred.access_token))] = name
    return found


SSH_IN_TMUX = {"SSH_CONNECTION": "127.0.0.1 50022 127.0.0.1 22", "SSH_CLIENT": "127.0.0.1 50022 22",
               "SSH_TTY": "/dev/pts/9", "TERM": "screen-256color", "TMUX_PANE": "%0"}


def _model_requests(run) -> list[dict]:
    return [r for r in standin.requests(run.standin) if r["path"].startswith("/v1/messages")]


@when("the release makes a model request in an SSH session inside tmux")
def model_request_over_ssh(world: World, claude_release: Release):
    """What the release's own code does in such a session, not where a fingerprint sits: first a
    control request in the sandbox's plain session (it must reach the keychain, or the harness did
    not drive the release's macOS code path and nothing can be concluded), then the same request
    with the variables sshd and tmux set."""
    _run(world, claude_release, "-p ping")
    why = _not_exercised(world, claude_release, "its choice of store")
    if why:
        pytest.skip(f"not checkable: {why} (the control run, without SSH or tmux)")
    world.marks["requests_before_ssh"] = len(_model_requests(world.marks["release_run"]))
    env = {**SSH_IN_TMUX, "TMUX": f"{world.sandbox.tmp}/tmux-0/default,4242,0"}
    attach(f"session of {claude_release.version}'s second request", "\n".join(f"{k}={v}" for k, v in env.items()))
    _run(world, claude_release, "-p ping", env)


@then("the model request carried the file's credential, not the keychain item's")
def carried_the_file(world: World, claude_release: Release):
    run = world.marks["release_run"]
    sent = _model_requests(run)[world.marks["requests_before_ssh"]:]
    if not sent:
        pytest.skip(f"not checkable: Claude Code {claude_release.version} sent no model request in the SSH/tmux "
                    f"session (exit {run.status})")
    stored = _stored_digests(world)
    used = [stored.get(r.get("credential"), "no stored credential") for r in sent]
    attach(f"credential of the model request in SSH/tmux ({claude_release.version})",
           f"{len(sent)} model request(s); carried: {', '.join(used)}")
    assert used[-1] == "the file", f"in an SSH session inside tmux the model request carried {used[-1]}"


@then("the release reports it is logged in")
def logged_in(world: World, claude_release: Release):
    run = world.marks["release_run"]
    if run.argv[:1] == ["-p"]:
        sent = [r for r in standin.requests(run.standin) if r["path"].startswith("/v1/messages")]
        if not sent:
            why = _not_exercised(world, claude_release, "its read")
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
        why = _not_exercised(world, claude_release, "its login state")
        if why:
            pytest.skip(f"not checkable: {why}")
        pytest.fail(f"auth status printed no JSON (exit {run.status})", pytrace=False)
    if state.get("loggedIn") is not True:
        why = _not_exercised(world, claude_release, "its login state")
        if why:
            pytest.skip(f"not checkable: {why}")
    assert state.get("loggedIn") is True, f"loggedIn={state.get('loggedIn')}"


@then(parsers.re(r'the release called security "(?P<argv>[^"]+)"'))
def called_security(world: World, claude_release: Release, argv: str):
    calls = _calls_in_run(world)
    if calls is None:
        pytest.skip(f"the {world.backend.name} backend keeps no log of security calls")
    why = _not_exercised(world, claude_release)
    if why:
        pytest.skip(f"not checkable: {why}")
    head, _, service = argv.replace("<user>", world.account).replace("<service>", world.service).partition(" -s ")
    want = [*head.split(" "), "-s", service]
    assert want in calls, f"no such call among the release's {len(calls)} security calls"


@then(parsers.re(r"~/\.claude\.json exists"))
def config_exists(world: World):
    assert (world.sandbox.home / ".claude.json").exists()


# --------------------------------------------------------------------------- refresh, for real
@given("Claude Code has stored an expired credential for the current user")
def stored_expired(world: World, fakes: Fakes):
    """The credential's expiresAt is past, and the Messages stand-in answers its access token as the
    API does an expired one (401): a release refreshes before a request or on that answer."""
    credential = fakes.credential(expires_in=-3600)
    call = world.claude_write(credential)
    assert call.status == 0, call.transcript()
    standin.set_expired(runner.standin_folder(world.sandbox), [str(credential.access_token)])


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
        # the harness could not make this release refresh through the stand-in: no statement about it
        pytest.skip(f"not checkable: Claude Code {claude_release.version}: no token request arrived at the "
                    f"stand-in: {why}")
    sent = asked[0].get("refresh_token")
    assert sent == str(world.marks["stored"].refresh_token), \
        f"the token request carried another refresh token than the stored one ({asked[0].get('grant_type')})"


def _release_calls(world: World) -> list[list[str]]:
    calls = _calls_in_run(world)
    if calls is None:
        pytest.skip(f"the {world.backend.name} backend keeps no log of security calls")
    return calls


def _option(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv[:-1] else None


def _is_write(argv: list[str], world: World, service: str) -> bool:
    """`add-generic-password -U -a <user> -s <service>` with the secret as `-X <hex>` or `-w <value>`
    (a keychain path may follow)."""
    return (argv[:1] == ["add-generic-password"] and "-U" in argv and ("-X" in argv or "-w" in argv)
            and _option(argv, "-a") == world.account and _option(argv, "-s") == service)


WRITE_FORMS = {
    "stdin -X": "-X <hex> on the stdin of `security -i`",
    "argv -X": "-X <hex> in argv",
    "argv -w": "-w <secret> in argv (the secret readable in the process list)",
}


def write_form(argv: list[str], spawned: list[str]) -> str:
    """Which of the forms releases write with this write was: the secret as `-w` (releases up to
    2.0.31, as a shell command line) or `-X` hex, in argv or on the stdin of `security -i` (told
    apart by the first argument of the `security` processes the release started)."""
    if "-w" in argv and "-X" not in argv:
        return "argv -w"
    return "argv -X" if "add-generic-password" in spawned else "stdin -X"


def masked(argv: list[str]) -> str:
    """A write for a report: the secret after -w/-X replaced by its length (and redact() on top)."""
    out = list(argv)
    for flag in ("-w", "-X"):
        if flag in out[:-1]:
            i = out.index(flag) + 1
            out[i] = f"<secret, {len(out[i])} chars>"
    return redact(" ".join(out))


@then(parsers.re(r'the release (?P<tried>wrote|tried to write) the credential with "add-generic-password -U"'
                 r'(?P<stdin> through "security -i")?'))
def release_wrote(world: World, claude_release: Release, tried: str, stdin: str | None, request):
    calls = _release_calls(world)
    why = _not_exercised(world, claude_release, "its keychain write")
    if why:
        pytest.skip(f"not checkable: {why}")
    writes = [c for c in calls if _is_write(c, world, world.service)]
    spawned = runner.spawned(world.marks["release_run"])
    forms = [write_form(c, spawned) for c in writes]
    attach("keychain writes by the release",
           ("\n".join(f"{WRITE_FORMS[f]}: {masked(c)}" for f, c in zip(forms, writes)) or "none")
           + f"\n(security processes started: {', '.join(spawned) or 'none'})")
    if forms:
        request.node.user_properties.append((Prop.RELEASE_WRITE_FORM, sorted(set(forms))))
    assert writes, f"no add-generic-password -U of {world.service!r} among the release's security calls"
    if stdin:
        assert "stdin -X" in forms, f"the write came as {', '.join(WRITE_FORMS[f] for f in forms)}, not on the stdin of security -i"
    if tried == "wrote":
        assert not any(c[:1] == ["delete-generic-password"] for c in calls), \
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
    request.node.user_properties.append((Prop.RELEASE_EXTRA_ITEMS, extra))
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
    request.node.user_properties.append((Prop.RELEASE_FALLBACK, text))
    assert read.status in (0, 44), read.transcript()
