"""Steps of a real token refresh by a Claude Code release: the expired credential, the refresh
through the stand-in, and what the release then wrote (keychain item, file) and how."""
from __future__ import annotations

import json

import pytest
from pytest_bdd import given, parsers, then, when

from keychain_claims.fakes import Fakes
from keychain_claims.harness import claude_code
from keychain_claims.security import dump
from keychain_claims.claims.outcomes import Prop
from keychain_claims.harness.world import World
from keychain_claims.redact import redact
from keychain_claims.releases import runner, standin
from keychain_claims.releases.release import Release
from keychain_claims.reports.attach import attach
from steps.release_runs import calls_in_run, not_exercised, option, run_claude


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
        # a set-up call that failed -- the shim refusing it (rehearsal: every call stays on the scratch
        # keychain) included, which it records as a harness event -- fails this set-up step: not
        # checkable by the evidence rule (claims/evidence.py), with the harness's own reason
        assert call.status == 0, call.transcript()
    world.session.set_gui(gui=False)


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
    run_claude(world, claude_release, args)


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
    calls = calls_in_run(world)
    if calls is None:
        pytest.skip(f"the {world.backend.name} backend keeps no log of security calls")
    return calls


def _is_write(argv: list[str], world: World, service: str) -> bool:
    """`add-generic-password -U -a <user> -s <service>` with the secret as `-X <hex>` or `-w <value>`
    (a keychain path may follow)."""
    return (argv[:1] == ["add-generic-password"] and "-U" in argv and ("-X" in argv or "-w" in argv)
            and option(argv, "-a") == world.account and option(argv, "-s") == service)


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
    why = not_exercised(world, claude_release, "its keychain write")
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
    if not writes:
        skip_if_cut_short(world)
    assert writes, f"no add-generic-password -U of {world.service!r} among the release's security calls"
    if stdin:
        assert "stdin -X" in forms, f"the write came as {', '.join(WRITE_FORMS[f] for f in forms)}, not on the stdin of security -i"
    if tried == "wrote":
        assert not any(c[:1] == ["delete-generic-password"] for c in calls), \
            "the release deleted an item around its write"


@then("the release raised no keychain prompt")
def release_no_prompt(world: World):
    before = world.marks.get("prompts_before_run")
    events = world.session.prompt_events()
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


@then("there was no item when the release started")
def no_item_before(world: World):
    assert "before" in world.marks, "the release's start was not recorded"
    assert world.marks["before"] is None, "the item was there when the release started"


def skip_if_cut_short(world: World) -> None:
    """Skip, not checkable, when a refresh run says nothing about where the release keeps the token it got: `-p
    ping` is done only once its model request is sent, so a `-p` run that ended before it -- on its own
    error ("Execution error") -- did not finish what it does with the token (2.0.47, 2.0.53 and 2.0.57 in
    issue 30's sweep, some runs out of several; every other refresh run of the sweep sent its model
    request).  A connection the release itself reset (`Connection reset by peer` in the proxy's log) is
    no such sign: releases that lose the token reset one too.  Asked only when the token is not where
    the claim puts it."""
    run = world.marks.get("release_run")
    if run is None or run.argv[:1] != ["-p"]:
        return
    if any(r["path"].startswith("/v1/messages") for r in standin.requests(run.standin)):
        return
    if any(argv[:1] == ["add-generic-password"] for argv in calls_in_run(world) or []):
        return          # it went on with the token: it tried to store it (1.0.68-2.0.31 lose it so, then say "Invalid API key")
    said = ((run.stdout.strip() or run.stderr.strip()).splitlines()[-1:] or [""])[0][:80]
    pytest.skip(f"not checkable: the release ended `claude {' '.join(run.argv)}` without its model request ({said!r}, "
                f"exit {run.status}): what it does with a refreshed token once it goes on is not observed")


@then("the item holds the refreshed token")
def item_refreshed(world: World):
    read = world.security(*claude_code.read_argv(world.account, world.service))
    if read.status != 0 or _token_in(read.stdout) != str(world.marks["refreshed"].access_token):
        skip_if_cut_short(world)
    assert read.status == 0, f"no item to read (exit {read.status})"
    assert _token_in(read.stdout) == str(world.marks["refreshed"].access_token), \
        "the item does not hold the token the stand-in issued"


@then(r"~/.claude/.credentials.json holds the refreshed token")
def file_refreshed(world: World):
    path = world.sandbox.home / ".claude" / ".credentials.json"
    if not path.exists() or _token_in(path.read_text()) != str(world.marks["refreshed"].access_token):
        skip_if_cut_short(world)
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
