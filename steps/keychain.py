"""Steps about the keychain: who stores, reads and rewrites the credential, and what
the keychain asked.  Phrased after the article; every action goes through the one
`security` driver in the scenario's sandbox."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from pytest_bdd import given, parsers, then, when

from keychain_claims.backends import skip_here
from keychain_claims.harness import claude_code
from keychain_claims.security import callers, dump
from keychain_claims.fakes import Credential, Fakes, secret
from keychain_claims.harness.world import World

SIGNING = {"a Developer-ID": "developer-id", "an ad-hoc": "adhoc", "an unsigned": "unsigned",
           "an Apple": "apple", "an App Store": "app-store"}
ANSWER = r'"(?P<choice>Always Allow|Allow|Deny)"'


# --------------------------------------------------------------------------- the keychain
@given(parsers.re(r"a scratch login keychain with (?:no timeout|an? (?P<seconds>\d+) second timeout)"))
def keychain_settings(world: World, seconds: str | None):
    """The sandbox's login keychain starts as a real login keychain does: no timeout."""
    if seconds:
        call = world.security("set-keychain-settings", "-t", seconds, str(world.sandbox.keychain.path))
        assert call.status == 0, call.transcript()


@given(parsers.re(r"the session (?P<context>has a GUI|has no GUI)"))
def session(world: World, context: str):
    world.session.set_gui(gui=context == "has a GUI")


@given("the session has no GUI and the login keychain is locked")
def no_gui_locked(world: World):
    world.session.set_gui(gui=False)
    call = world.security("lock-keychain", str(world.sandbox.keychain.path))
    assert call.status == 0, call.transcript()


@given("the login keychain is set to lock when sleeping")
def lock_on_sleep(world: World):
    """`set-keychain-settings -l` without -t: lock on sleep, no timeout (Keychain Access's "Lock when sleeping")."""
    call = world.security("set-keychain-settings", "-l", str(world.sandbox.keychain.path))
    assert call.status == 0, call.transcript()


@when("I run the article's show-keychain-info on the login keychain")
def run_show_info(world: World):
    """`security show-keychain-info <login keychain>` as the triage types it, run directly (a dialog it raises
    is answered on every backend: Cancel, so the keychain stays as it was)."""
    world.security("show-keychain-info", str(world.sandbox.keychain.path), unlock="Cancel")


@when("the Mac sleeps")
def mac_sleeps(world: World):
    world.session.sleep()


@given("the login keychain is locked")
def login_locked(world: World):
    """Locked as after a timeout or a sleep with lock-on-sleep; the session keeps its GUI."""
    call = world.security("lock-keychain", str(world.sandbox.keychain.path))
    assert call.status == 0, call.transcript()


@when(parsers.re(r"(?P<count>\d+) (?P<unit>seconds?|hours?) pass"))
def time_passes(world: World, count: str, unit: str):
    world.session.advance_clock(int(count) * (3600 if unit.startswith("hour") else 1))


@when("the machine restarts")
def restart(world: World):
    world.session.restart()


@when("the machine restarts and the login keychain is unlocked at login")
def restart_and_login(world: World):
    world.session.restart()
    call = world.security("unlock-keychain", str(world.sandbox.keychain.path))
    assert call.status == 0, call.transcript()


@then(parsers.re(r"the login keychain (?P<state>is unlocked|is locked)"))
def keychain_state(world: World, state: str):
    before = len(world.dialogs("unlock"))
    call = world.security("show-keychain-info", str(world.sandbox.keychain.path), unlock="Cancel")
    locked = call.status != 0 or len(world.dialogs("unlock")) > before
    assert locked == (state == "is locked"), call.transcript()


# --------------------------------------------------------------------------- the credential
@given("Claude Code has stored a credential for the current user")
@given("Claude Code has refreshed the token")
@when("Claude Code logs in again")
def claude_stores(world: World, fakes: Fakes):
    call = world.claude_write(fakes.credential())
    assert call.status == 0, call.transcript()


@when("Claude Code refreshes the token")
def claude_refreshes(world: World, fakes: Fakes):
    world.marks["before"] = metadata(world)
    call = world.claude_write(fakes.credential())
    assert call.status == 0, call.transcript()


@given("the stored credential is corrupt")
def corrupt_credential(world: World, fakes: Fakes):
    good = fakes.credential()
    broken = secret(str(good.payload)[: len(good.payload) // 2], fakes.secrets)      # cut mid-way, as a torn write would
    call = world.claude_write(Credential(good.access_token, good.refresh_token, good.expires_at, broken))
    assert call.status == 0, call.transcript()


@given("the item trusts no application")
def trusts_nobody(world: World):
    """Re-create the item with `-T ""`: no application, not even security, may read it unasked."""
    payload = str(world.credential.payload)
    world.security(*claude_code.delete_argv(world.account, world.service))
    line = (f'add-generic-password -a "{world.account}" -s "{world.service}" '
            f'-X "{payload.encode().hex()}" -T ""\n')
    call = world.security("-i", stdin=line)
    assert call.status == 0, call.transcript()


@given("the item does not exist")
def item_gone(world: World):
    call = world.security(*claude_code.delete_argv(world.account, world.service))
    assert call.status == 0, call.transcript()
    world.credential = world.marks.get("file_credential")    # the file now holds the only copy


@given(parsers.re(r'CLAUDE_CONFIG_DIR is set to "(?P<path>[^"]+)"'))
def config_dir(world: World, path: str):
    full = path.replace("~", str(world.sandbox.home), 1)
    world.sandbox.setenv(CLAUDE_CONFIG_DIR=full)
    world.service = claude_code.service(full)


# --------------------------------------------------------------------------- who reads it
@given(parsers.re(r'the credential is read by (?P<signing>a Developer-ID|an ad-hoc|an unsigned|an Apple|an App Store) '
                  r'app "(?P<name>[^"]+)"'))
def reading_app(world: World, signing: str, name: str):
    world.app = callers.app(name, SIGNING[signing])


@given(parsers.re(rf"the app has read the credential, answering {ANSWER}"))
@when(parsers.re(rf"the app reads the credential, answering {ANSWER}"))
@then(parsers.re(rf"the app reads the credential, answering {ANSWER}"))
def app_reads(world: World, choice: str):
    world.claude_read(caller=world.app, choices=(choice,))


@when("the app is rebuilt")
def app_rebuilt(world: World):
    world.app = world.app.updated()


@when("the app is re-signed by another team")
def app_resigned(world: World):
    world.app = world.app.resigned("developer-id", team="ZZ9PLURALZ")


@when("nothing changes")
def nothing_changes(world: World):
    """The control row: the same binary asks again."""


@when("another application rewrites the item")
def other_app_writes(world: World, fakes: Fakes):
    writer = callers.app("Writer", "developer-id", team="W1RITER000")
    call = world.claude_write(fakes.credential(), caller=writer, default="Always Allow")
    assert call.status == 0, call.transcript()


@given("Claude Code is a Developer-ID signed binary")
def claude_binary(world: World):
    """Claude Code's own binary, as a caller the keychain could check if Claude Code asked it itself."""
    world.marks["claude_binary"] = callers.app("claude", "developer-id")


@given("Claude Code reads through security, as releases do")
def claude_reads_via_security(world: World):
    """What every release does (CAU-READER's scenarios): it spawns `security`, which is the binary the
    keychain checks.  Without this step Claude Code's own binary asks (the article's reading)."""
    world.marks["reader"] = "security"


def _claude_caller(world: World):
    """Who asks the keychain when Claude Code reads: `security` (None), unless a scenario made Claude Code
    a binary of its own and did not say it reads through security."""
    binary = world.marks.get("claude_binary")
    return None if binary is None or world.marks.get("reader") == "security" else binary


@when("Claude Code is updated to a newly signed build")
def claude_updated(world: World):
    """A new Claude Code build replaces the old one, its signature no longer matching the old one's
    (the article's premise: re-signed, another designated requirement).  What the keychain checks is the
    binary that asks: Claude Code's when it asks itself, `security` when it reads through security."""
    binary = world.marks.get("claude_binary")
    assert binary is not None, "no Claude Code binary to update (Given Claude Code is a Developer-ID signed binary)"
    world.marks["claude_binary"] = binary.resigned("developer-id", team="ZZ9PLURALZ")


@given(parsers.re(rf"Claude Code has read the credential, answering {ANSWER}"))
@when(parsers.re(rf"Claude Code reads the credential, answering {ANSWER}"))
@then(parsers.re(rf"Claude Code reads the credential, answering {ANSWER}"))
def claude_reads_answering(world: World, choice: str):
    world.claude_read(caller=_claude_caller(world), choices=(choice,))


@when("Claude Code reads the credential")
def claude_reads(world: World):
    world.claude_read()


@when(parsers.re(rf"Claude Code reads the credential (?P<count>\d+) (?:more )?times, answering {ANSWER}"))
def claude_reads_n(world: World, count: str, choice: str):
    for _ in range(int(count)):
        world.claude_read(default=choice)


@when(parsers.re(r'Claude Code reads the credential(?: (?P<count>\d+) times)?, answering "(?P<choice>OK|Cancel)" '
                 r'to the unlock dialog'))
def claude_reads_unlock(world: World, count: str | None, choice: str):
    for _ in range(int(count or 1)):
        world.claude_read(unlock=choice)


@when(parsers.re(r"Claude Code reads the credential (?P<count>\d+) times while refreshing the token"))
def reads_racing_refresh(world: World, fakes: Fakes, count: str):
    new = fakes.credential()
    with ThreadPoolExecutor(max_workers=int(count) + 1) as pool:
        jobs = [pool.submit(world.claude_read) for _ in range(int(count))]
        jobs.append(pool.submit(world.claude_write, new))
        for job in jobs:
            job.result()


# --------------------------------------------------------------------------- what happened
@then(parsers.re(r"(?P<count>\d+) (?P<kind>item|unlock) dialogs? (?:was|were) shown(?: in all)?"))
def dialogs_shown(world: World, count: str, kind: str):
    seen = world.dialogs(kind)
    if len(seen) != int(count):
        raise AssertionError(f"{len(seen)} {kind} dialog(s) shown, expected {count}: " + "; ".join(map(str, seen)))


@then("no unlock dialog was shown")
def no_unlock(world: World):
    assert world.dialogs("unlock") == []


@then("no keychain prompt was raised")
def no_prompt(world: World):
    dialogs = [p for p in world.prompts if p.kind.endswith("dialog")]
    if dialogs:            # said for a person (the report shows it), not as a list of objects
        raise AssertionError(f"the keychain raised {len(dialogs)} dialog(s): " + "; ".join(map(str, dialogs)))
    events = world.session.prompt_events()
    if events:
        raise AssertionError(f"the keychain raised {len(events)} prompt(s): "
                             + "; ".join(" ".join(f"{k} {v}" for k, v in e.items()) for e in events))
    assert all(c.status != 36 for c in world.sandbox.security.calls), "a call failed with 36: a prompt was needed"


_STRAIGHT = str.maketrans({"\u201c": '"', "\u201d": '"'})


def _as_scratch(world: World, keychain: str) -> str:
    """The scratch keychain stands for the article's "login" keychain: on a backend whose scratch
    file may not be named like a login keychain (securityd would treat it as one and touch the
    session keybag) the dialog names the scratch keychain instead, as the shim maps the typed path."""
    return world.sandbox.keychain.name if keychain == "login" else keychain


@then(parsers.re(r'the dialog says "(?P<app>[^"]+)" (?P<verb>wants to access key|wants to use your confidential '
                 r'information stored in) "(?P<item>[^"]+)" in the "(?P<keychain>[^"]+)" keychain'))
def dialog_says(world: World, app: str, verb: str, item: str, keychain: str):
    """The exact sentence of the last item dialog.  Which sentence a state draws is the simulator's model
    (sim/agent.py dialog_text: the check that refused the read decides it); a backend that cannot read a
    dialog's text (dialog_text_visible False: the window is seen, not read) says so."""
    dialog = world.dialogs("item")[-1]
    keychain = _as_scratch(world, keychain)
    assert (dialog.app, dialog.item, dialog.keychain) == (app, item, keychain), dialog.text
    if not world.backend.dialog_text_visible:
        skip_here(world.backend, "the dialog's window is seen but its text is not read (no Accessibility dump)")
    if not dialog.text:
        skip_here(world.backend, f"no text was captured for {app}'s dialog (a test caller reads with user "
                                 "interaction disabled and no dialog is drawn; a SecurityAgent window is seen, not "
                                 "read): its sentence cannot be checked here")
    want = (f'{app} {verb} "{item}" in your keychain.\nTo allow this, enter the "{keychain}" keychain password.')
    got = "\n".join(line.strip() for line in dialog.text.translate(_STRAIGHT).splitlines() if line.strip())
    assert got == want, f"the dialog drew {got!r}, not {want!r}"


@then(parsers.re(r'the dialog says "(?P<app>[^"]+)" wants to use the "(?P<keychain>[^"]+)" keychain'))
def unlock_dialog_says(world: World, app: str, keychain: str):
    dialog = world.dialogs("unlock")[-1]
    if not world.backend.dialog_text_visible:
        skip_here(world.backend, "the dialog's window is seen but its text is not read (no Accessibility dump)")
    want = f'{app} wants to use the "{_as_scratch(world, keychain)}" keychain.'
    got = dialog.text.translate(_STRAIGHT).strip().splitlines()[0].strip()
    assert got == want, f"the dialog drew {got!r}, not {want!r}"


@given(parsers.re(r'another writer left the item\'s partition list at "(?P<ids>[^"]+)"'))
def partition_left_at(world: World, ids: str):
    """The partition list a re-creating writer leaves (anthropics/claude-code#81707: `teamid:NKUJUXUJ3B` only),
    set through `set-generic-password-partition-list` (the keychain password typed at its prompt), the
    trusted-application list untouched."""
    call = world.security("set-generic-password-partition-list", "-S", ids, "-a", world.account,
                          "-s", world.service, str(world.sandbox.keychain.path))
    assert call.status == 0, call.transcript()


def _seen_on_screen(world: World) -> None:
    """A dialog that was dismissed unseen and answered by emulation shows no buttons and takes no
    password: what it offered cannot be read on this backend."""
    if world.dialogs("item") and world.dialogs("item")[-1].emulated:
        skip_here(world.backend, "the dialog was dismissed unseen and its answer emulated: its buttons and its "
                                 "password field are not read without UI automation")


@then(parsers.re(r'the dialog offers "(?P<a>[^"]+)", "(?P<b>[^"]+)" and "(?P<c>[^"]+)"'))
def dialog_offers(world: World, a: str, b: str, c: str):
    _seen_on_screen(world)
    assert f"[{a}] [{b}] [{c}]" in world.last.tty, world.last.tty


@then("the dialog asked for the keychain password before allowing")
def dialog_password(world: World):
    _seen_on_screen(world)
    kinds = [p.kind for p in world.prompts]
    assert "item-dialog" in kinds and "dialog-password" in kinds[kinds.index("item-dialog"):], kinds


@then("the read succeeds")
def read_ok(world: World):
    assert world.reads, "Claude Code did not read the credential"
    assert world.reads[-1].status == 0, world.reads[-1].transcript()


@then("the read finds no item")
def read_none(world: World):
    call = world.reads[-1]
    assert call.status == 44 and "could not be found" in call.stderr, call.transcript()


@then(parsers.re(r"the read returned the (?:stored|refreshed) credential byte for byte"))
def read_intact(world: World):
    call = next((c for c in reversed(world.reads) if c.status == 0), None)
    assert call is not None, "no read of the credential succeeded"
    same = call.stdout == str(world.credential.payload) + "\n"
    assert same, "the read did not return the stored credential"


@then("what was read is not a usable credential")
def read_unusable(world: World):
    try:
        token = json.loads(world.reads[-1].stdout)["claudeAiOauth"]["accessToken"]
    except (ValueError, KeyError, TypeError):
        return
    pytest.fail(f"the corrupt credential parsed as a usable token of {len(token)} characters")


# --------------------------------------------------------------------------- the item itself
def metadata(world: World) -> dump.Item | None:
    call = world.security("find-generic-password", "-a", world.account, "-s", world.service)
    return dump.find(call.stdout, world.service) if call.status == 0 else None


def acl(world: World) -> dump.Item:
    call = world.security("dump-keychain", "-a", str(world.sandbox.keychain.path))
    item = dump.find(call.stdout, world.service)
    assert item is not None, call.transcript()
    return item


@when(parsers.re(r'I run security (?P<args>.+)'))
def run_security(world: World, args: str):
    import shlex
    world.security(*shlex.split(args))


@then("the call succeeds")
def call_ok(world: World):
    assert world.last.status == 0, world.last.transcript()


@then(parsers.re(r'the item is a "(?P<cls>\w+)" in the login keychain'))
def item_class(world: World, cls: str):
    item = dump.find(world.last.stdout, world.service)
    assert item is not None and item.cls == cls, world.last.stdout
    assert item.keychain == str(world.sandbox.keychain.path), item.keychain


@then(parsers.re(r'its "svce" is "(?P<svce>[^"]+)" and its "acct" is the current user'))
def item_names(world: World, svce: str):
    item = dump.find(world.last.stdout, svce)
    assert item is not None and item.get("acct") == world.account, world.last.stdout


@then("the item's creation date changed")
def created_changed(world: World):
    before, after = world.marks["before"], metadata(world)
    assert after.get("cdat") != before.get("cdat"), f"creation date kept: {after.get('cdat')}"


@then("the item's creation date is unchanged and its modification date is not earlier")
def created_kept(world: World):
    before, after = world.marks["before"], metadata(world)
    assert after.get("cdat") == before.get("cdat")
    assert after.get("mdat") >= before.get("mdat")


@then(parsers.re(r'the item\'s partition list is "(?P<ids>[^"]+)"'))
def partition_list(world: World, ids: str):
    assert acl(world).partition_ids() == [i.strip() for i in ids.split(",")]


def trusted_names(world: World) -> list[str]:
    return [a.rsplit("/", 1)[-1].lower() for a in acl(world).trusted_apps() or []]


@given(parsers.re(r'the item\'s access list trusts "(?P<name>[^"]+)"'))
def access_list_has(world: World, name: str):
    assert name.lower() in trusted_names(world)


@then(parsers.re(r'the item\'s access list trusts only "(?P<name>[^"]+)"'))
def access_list_only(world: World, name: str):
    assert trusted_names(world) == [name.lower()]


@then("the stored credential is unchanged")
def item_unchanged(world: World):
    before, after = world.marks["before_typing"], metadata(world)
    assert after is not None, "the item is gone"
    assert after.attrs == before.attrs, "the item's attributes changed"


@then("the item no longer exists")
def item_absent(world: World):
    assert metadata(world) is None


@then("the item exists again")
def item_present(world: World):
    assert metadata(world) is not None
