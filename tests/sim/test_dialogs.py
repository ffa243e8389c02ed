"""Prompts on the terminal: security's getpass prompts and the SecurityAgent dialogs the
simulator draws (texts from keychain_claims/prompts.py), answered through the harness's own
pty driver; and the code-identity rules that decide whether a dialog appears at all."""
from __future__ import annotations

import json

from keychain_claims.security import callers, dump
from keychain_claims.security import dialogs, prompts
from keychain_claims.security.prompts import Responder
from keychain_claims.sim import control, unverified

SVC = "Claude Code-credentials"


def _state(box):
    return control.state_dir(box.root)


def _kc(box) -> str:
    return str(box.keychain.path)


def _add(box, *extra: str, secret: str = "s3cret", **kw):
    call = box.security.run("add-generic-password", "-a", box.user, "-s", SVC, "-w", secret, *extra, **kw)
    assert call.status == 0, call.transcript()
    return call


def _read(box, choices=(), responder=None, env=None):
    responder = responder or box.responder(choices=list(choices))
    return box.security.run("find-generic-password", "-a", box.user, "-s", SVC, "-w", responder=responder, env=env)


def _acl(box) -> dump.Item:
    call = box.security.run("dump-keychain", "-a", _kc(box))
    return dump.find(call.stdout, SVC)


def _requirements(item: dump.Item) -> list[str]:
    return next(e.requirements for e in item.access if "decrypt" in e.authorizations)


def _as(identity) -> dict:
    return {"KEYCHAIN_SIM_CALLER": identity.to_env()}


# --------------------------------------------------------------------------- getpass prompts
def test_prepare_typed_the_new_keychain_password_twice_without_echo(box):
    first = box.security.calls[0]
    assert first.argv == ["-i"] and first.status == 0
    assert first.stdin.splitlines()[0] == f"create-keychain {_kc(box)}"
    assert str(box.keychain.password) not in first.stdin           # typed at prompts, never sent as a command
    assert [p.kind for p in first.prompts] == ["new-keychain-password", "new-keychain-password", "unlock-password"]
    assert prompts.NEW_KEYCHAIN_PASSWORD in first.tty and prompts.RETYPE_NEW_KEYCHAIN_PASSWORD in first.tty
    assert str(box.keychain.password) not in first.tty            # echo was off
    assert first.stdout == first.stderr == ""


def test_prepare_runs_each_setup_command_once_in_order(box):
    path = _kc(box)
    assert box.session.call_log() == [["create-keychain", path], ["set-keychain-settings", path],
                                      ["unlock-keychain", path], ["default-keychain", "-s", path],
                                      ["list-keychains", "-d", "user", "-s", path]]
    info = box.security.run("show-keychain-info")
    assert info.status == 0 and info.stderr == 'Keychain "<NULL>" no-timeout\n'   # default, unlocked, no timeout


class Mismatch(Responder):
    """Types a different password at every retype prompt."""

    def answer(self, index, before, matched):
        text = super().answer(index, before, matched)
        return text + "-typo" if index in (0, 3) else text


def test_create_keychain_gives_up_after_three_mismatches(box):
    call = box.security.run("create-keychain", "other.keychain", responder=Mismatch(keychain_password="pw"))
    assert call.status == 1
    assert call.stderr == "passwords don't match\n" * 3
    assert not (box.home / "Library/Keychains/other.keychain-db").exists()


def test_unlock_keychain_prompts_for_the_password(box):
    box.security.run("lock-keychain", _kc(box))
    call = box.security.run("unlock-keychain", _kc(box), responder=box.responder())
    assert call.status == 0 and [p.text for p in call.prompts] == [f"password to unlock {_kc(box)}:"]
    box.security.run("lock-keychain", _kc(box))
    call = box.security.run("unlock-keychain", responder=Responder(keychain_password="wrong"))
    assert [p.text for p in call.prompts] == ["password to unlock default:"]
    assert call.status == 51
    assert call.stderr == "security: SecKeychainUnlock <NULL>: The user name or passphrase you entered is not correct.\n"


def test_trailing_w_prompts_for_the_item_password_twice(box):
    call = box.security.run("add-generic-password", "-a", box.user, "-s", SVC, "-w",
                            responder=box.responder(item_password="typed secret"))
    assert call.status == 0, call.transcript()
    assert [p.text for p in call.prompts] == [prompts.NEW_ITEM_PASSWORD, prompts.RETYPE_NEW_ITEM_PASSWORD]
    assert "typed secret" not in call.tty
    assert _read(box).stdout == "typed secret\n"


# --------------------------------------------------------------------------- the item dialog
def test_allow_is_for_this_access_only(box):
    _add(box, "-T", "")
    call = _read(box, ["Allow"])
    assert (call.status, call.stdout, call.stderr) == (0, "s3cret\n", "")
    [dialog] = call.prompts[:1]
    assert (dialog.kind, dialog.app, dialog.item, dialog.keychain) == ("item-dialog", "security", SVC, "login")
    assert dialogs.text("acl", unverified.macos(), app="security", item=SVC, keychain="login").splitlines()[0] in call.tty
    assert [p.kind for p in call.prompts] == ["item-dialog", "dialog-password"]
    again = _read(box, ["Allow"])
    assert again.status == 0 and again.prompts[0].kind == "item-dialog"       # asked again
    assert _acl(box).trusted_apps() == []                                       # nothing was added


def test_always_allow_adds_the_caller_and_stops_asking(box):
    _add(box, "-T", "")
    call = _read(box, ["Always Allow"])
    assert call.status == 0 and call.stdout == "s3cret\n"
    item = _acl(box)
    assert item.trusted_apps() == ["/usr/bin/security"]
    assert _requirements(item)[0] == 'identifier "com.apple.security" and anchor apple'
    quiet = _read(box)
    assert (quiet.status, quiet.stdout, quiet.prompts) == (0, "s3cret\n", [])
    kinds = [(e["kind"], e["answer"], e["ui"]) for e in control.prompts(_state(box))]
    assert kinds == [("item-access", "Always Allow", "gui")]


def test_deny_is_128_and_prints_nothing(box):
    _add(box, "-T", "")
    call = _read(box, ["Deny"])
    assert (call.status, call.stdout, call.stderr) == (128, "", "")
    assert control.prompts(_state(box))[-1]["answer"] == "Deny"


def test_wrong_dialog_password_three_times_fails(box):
    _add(box, "-T", "")
    call = _read(box, responder=box.responder(choices=["Allow"], dialog_password="nope"))
    assert (call.status, call.stdout) == (51, "")
    assert call.tty.count(prompts.DIALOG_WRONG_PASSWORD.strip()) == prompts.DIALOG_TRIES
    assert [p.kind for p in call.prompts].count("dialog-password") == prompts.DIALOG_TRIES


def test_g_also_goes_through_the_dialog(box):
    _add(box, "-T", "")
    call = box.security.run("find-generic-password", "-s", SVC, "-g", responder=box.responder(choices=["Allow"]))
    assert call.status == 0 and call.stderr == 'password: "s3cret"\n' and call.stdout.startswith("keychain: ")
    meta = box.security.run("find-generic-password", "-s", SVC, responder=box.responder())
    assert meta.status == 0 and meta.prompts == []                       # metadata never prompts


def test_dump_keychain_d_asks_per_item(box):
    _add(box, "-T", "")
    call = box.security.run("dump-keychain", "-d", _kc(box), responder=box.responder(choices=["Allow"]))
    assert call.status == 0 and 'data:\n"s3cret"\n' in call.stdout
    assert [p.kind for p in call.prompts][:1] == ["item-dialog"]


# --------------------------------------------------------------------------- the unlock dialog
def test_locked_keychain_unlock_dialog_ok_then_cancel(box):
    box.security.run("lock-keychain", _kc(box))
    call = box.security.run("show-keychain-info", _kc(box), responder=box.responder(unlock_choice="OK"))
    assert call.status == 0 and call.stderr == f'Keychain "{_kc(box)}" no-timeout\n'
    assert [(p.kind, p.app, p.keychain) for p in call.prompts][:1] == [("unlock-dialog", "security", "login")]
    assert box.security.run("show-keychain-info", _kc(box)).prompts == []            # stays unlocked
    control.reboot(_state(box))
    call = box.security.run("show-keychain-info", _kc(box), responder=box.responder(unlock_choice="Cancel"))
    assert call.status == 128
    assert call.stderr == f"security: SecKeychainCopySettings {_kc(box)}: User canceled the operation.\n"


def test_read_of_a_locked_keychain_unlocks_through_the_dialog(box):
    _add(box)
    control.reboot(_state(box))
    call = _read(box)
    assert (call.status, call.stdout) == (0, "s3cret\n")
    assert [p.kind for p in call.prompts] == ["unlock-dialog", "dialog-password"]


def test_no_gui_session_fails_36_and_logs_the_prompt(box):
    _add(box, "-T", "")
    box.session.set_gui(gui=False)
    call = _read(box)
    assert (call.status, call.stdout, call.stderr, call.prompts) == (36, "", "", [])
    assert control.prompts(_state(box))[-1] == {**control.prompts(_state(box))[-1], "kind": "item-access",
                                                "answer": "no-ui", "ui": "none"}


# --------------------------------------------------------------------------- code identity
def test_developer_id_update_keeps_its_grant_and_adhoc_rebuild_loses_it(box):
    _add(box)
    helper = callers.app("Helper", "developer-id", team="TEAM123456")
    call = _read(box, ["Always Allow"], env=_as(helper))
    assert call.status == 0 and call.prompts[0].app == "helper"
    item = _acl(box)
    assert item.trusted_apps()[0] == helper.path                                # at the front
    assert _requirements(item)[0] == ('identifier "com.example.helper" and anchor apple generic and '
                                    'certificate leaf[subject.OU] = "TEAM123456"')
    assert item.partition_ids() == ["apple-tool:", "teamid:TEAM123456"]
    assert _read(box, env=_as(helper.updated())).prompts == []                  # same team + identifier
    other_team = helper.resigned("developer-id", team="OTHER00000")
    assert _read(box, ["Deny"], env=_as(other_team)).status == 128

    tool = callers.app("Tool", "adhoc")
    assert _read(box, ["Always Allow"], env=_as(tool)).status == 0
    assert f"cdhash:{tool.cdhash}" in _acl(box).partition_ids()
    assert _read(box, env=_as(tool)).prompts == []
    rebuilt = _read(box, ["Deny"], env=_as(tool.updated()))                      # new cdhash
    assert rebuilt.status == 128 and rebuilt.prompts[0].kind == "item-dialog"


def test_update_by_security_resets_the_partition_list(box):
    _add(box)
    helper = callers.app("Helper", "developer-id")
    assert _read(box, ["Always Allow"], env=_as(helper)).status == 0
    _add(box, "-U", secret="refreshed")
    item = _acl(box)
    assert item.partition_ids() == ["apple-tool:"]
    assert helper.path in item.trusted_apps()                                   # ACL copied
    call = _read(box, ["Deny"], env=_as(helper))                                # partition check fails
    assert call.status == 128 and call.prompts[0].kind == "item-dialog"
    assert _read(box).stdout == "refreshed\n"                                   # security itself still reads


def test_unsigned_and_apple_partitions(box):
    _add(box, "-A")
    unsigned = callers.app("Script", "unsigned")
    call = _read(box, ["Always Allow"], env=_as(unsigned))
    assert call.status == 0 and call.prompts[0].kind == "item-dialog"           # ACL <null>, partition not
    assert _acl(box).partition_ids() == ["apple-tool:", "unsigned:"]
    apple = callers.CodeIdentity("/usr/bin/python3", "com.apple.python3", "apple")
    assert _read(box, ["Always Allow"], env=_as(apple)).status == 0
    assert _acl(box).partition_ids()[-1] == "apple:"


def test_calls_are_logged_with_the_caller_partition(box):
    helper = callers.app("Helper", "developer-id", team="TEAM123456")
    _add(box, env=_as(helper))
    call = [e for e in control.events(_state(box)) if e["event"] == "call"][-1]
    assert call["caller"] == "teamid:TEAM123456" and call["status"] == 0
    assert call["argv"][call["argv"].index("-w") + 1] == "<secret>"
    assert "s3cret" not in json.dumps(control.events(_state(box)))
    assert _acl(box).partition_ids() == ["teamid:TEAM123456"]                   # creator's ID
