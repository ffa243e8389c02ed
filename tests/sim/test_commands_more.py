"""More of security-cli.md, command by command: exact dump bytes, settings flags, search
lists, error texts and statuses, `-i` details, state (timeout, sleep, reboot) and storage."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pexpect
import pytest

from keychain_claims.sim import control, store

SVC = "Claude Code-credentials"
JUNE_10_NOON = 1718020800.0          # 2024-06-10 12:00:00 UTC


def _at(sim, epoch: float) -> None:
    sim.state.mkdir(parents=True, exist_ok=True)
    (sim.state / "clock").write_text(repr(epoch))


# --------------------------------------------------------------------------- output formats
def test_attribute_dump_matches_the_spec_example_byte_for_byte(sim):
    _at(sim, JUNE_10_NOON)
    sim.make_login()
    assert sim("add-generic-password", "-a", "user", "-s", SVC, "-w", "x").status == 0
    r = sim("find-generic-password", "-a", "user", "-s", SVC)
    assert (r.status, r.err) == (0, "")
    assert r.out == f'''keychain: "{sim.login}"
version: 512
class: "genp"
attributes:
    0x00000007 <blob>="Claude Code-credentials"
    0x00000008 <blob>=<NULL>
    "acct"<blob>="user"
    "cdat"<timedate>=0x32303234303631303132303030305A00  "20240610120000Z\\000"
    "crtr"<uint32>=<NULL>
    "cusi"<sint32>=<NULL>
    "desc"<blob>=<NULL>
    "gena"<blob>=<NULL>
    "icmt"<blob>=<NULL>
    "invi"<sint32>=<NULL>
    "mdat"<timedate>=0x32303234303631303132303030305A00  "20240610120000Z\\000"
    "nega"<sint32>=<NULL>
    "prot"<blob>=<NULL>
    "scrp"<sint32>=<NULL>
    "svce"<blob>="Claude Code-credentials"
    "type"<uint32>=<NULL>
'''


def test_optional_attributes_and_print_buffer_forms(login):
    r = login("add-generic-password", "-a", "a", "-s", "s", "-l", "L", "-D", "kind", "-G", "", "-j", "two\nlines",
              "-c", "abcd", "-C", "note", "-w", "x")
    assert r.status == 0, r.err
    out = login("find-generic-password", "-a", "a", "-s", "s").out
    assert '    0x00000007 <blob>="L"\n' in out
    assert '    "desc"<blob>="kind"\n' in out
    assert '    "gena"<blob>=""\n' in out                      # empty but present: not <NULL>
    assert '    "icmt"<blob>=0x74776F0A6C696E6573  "two\\012lines"\n' in out     # multi-line -> hex
    assert '    "crtr"<uint32>="abcd"\n' in out and '    "type"<uint32>="note"\n' in out
    login("add-generic-password", "-a", "b", "-s", "bin", "-X", "0001ff")
    g = login("find-generic-password", "-s", "bin", "-g")
    assert g.err == "password: 0x0001FF \n"                   # nothing printable: trailing space
    assert login("find-generic-password", "-s", "bin", "-w").out == "0001ff\n"


def test_filters_select_and_no_filter_returns_the_first(login):
    login("add-generic-password", "-a", "a", "-s", "first", "-D", "d1", "-w", "1")
    login("add-generic-password", "-a", "b", "-s", "second", "-D", "d2", "-c", "zzzz", "-w", "2")
    assert '"svce"<blob>="first"' in login("find-generic-password").out
    assert login("find-generic-password", "-D", "d2", "-w").out == "2\n"
    assert login("find-generic-password", "-c", "zzzz", "-w").out == "2\n"
    assert login("find-generic-password", "-a", "b", "-D", "d1").status == 44      # only -a: -D still counts
    assert login("find-generic-password", "-a", "b", "-s", "second", "-D", "d1").status == 0   # both: ignored


def test_dump_keychain_lists_every_item(login):
    for n in range(3):
        login("add-generic-password", "-a", f"a{n}", "-s", f"s{n}", "-w", f"secret{n}")
    r = login("dump-keychain")
    assert r.status == 0 and r.out.count("keychain: ") == 3 and "secret" not in r.out
    d = login("dump-keychain", "-d", login.login)
    assert [line for line in d.out.splitlines() if line.startswith('"secret')] == \
        ['"secret0"', '"secret1"', '"secret2"']


# --------------------------------------------------------------------------- keychain settings
@pytest.mark.parametrize("flags, shown", [
    ([], "no-timeout"), (["-u"], "no-timeout"), (["-l"], "lock-on-sleep no-timeout"),
    (["-t", "7"], "timeout=7s"), (["-lut", "21600"], "lock-on-sleep timeout=21600s"), (["-t", "12abc"], "timeout=12s"),
])
def test_set_keychain_settings_flags(login, flags, shown):
    r = login("set-keychain-settings", *flags, login.login)
    assert (r.status, r.out, r.err) == (0, "", "")
    assert login("show-keychain-info", login.login).err == f'Keychain "{login.login}" {shown}\n'


def test_show_keychain_info_hidden_salt_and_errors(login):
    r = login("show-keychain-info", "-s", "login.keychain")
    assert r.status == 0 and r.err.startswith('Keychain "login.keychain" no-timeout salt=')
    assert r.err.rstrip("\n").rsplit("=", 1)[1].isupper()
    r = login("show-keychain-info", "nope.keychain")
    assert (r.status, r.err) == (50, "security: SecKeychainCopySettings nope.keychain: "
                                     "The specified keychain could not be found.\n")


def test_settings_need_the_keychain_unlocked(login):
    login("lock-keychain")
    r = login("set-keychain-settings", "-t", "5")
    assert (r.status, r.err) == (36, "security: SecKeychainSetSettings <NULL>: User interaction is not allowed.\n")


def test_timeout_sleep_and_reboot(login):
    from keychain_claims.sim import store  # noqa: F401  (the control API is what steps use)
    login("set-keychain-settings", "-l", login.login)           # lock on sleep, no timeout
    control.advance_clock(login.state, 10 ** 6)
    assert login("show-keychain-info").status == 0             # no timeout: still unlocked
    other = str(login.home.parent / "keep.keychain")
    login("create-keychain", "-p", "pw", other)
    login("set-keychain-settings", "-t", "1000", other)        # no lock-on-sleep
    assert sorted(control.sleep(login.state)) == [login.login]
    assert login("show-keychain-info").status == 36
    assert login("show-keychain-info", other).status == 0
    control.reboot(login.state)
    assert login("show-keychain-info", other).status == 36


def test_new_keychain_relocks_after_300_idle_seconds(sim):
    sim("create-keychain", "-p", "pw", "x.keychain")
    control.advance_clock(sim.state, 299)
    assert sim("show-keychain-info", "x.keychain").status == 0
    control.advance_clock(sim.state, 301)
    assert sim("show-keychain-info", "x.keychain").status == 36
    assert sim("unlock-keychain", "-p", "pw", "x.keychain").status == 0
    assert sim("show-keychain-info", "x.keychain").status == 0


# --------------------------------------------------------------------------- keychain lists and paths
def test_relative_names_never_use_the_current_directory(sim, tmp_path):
    work = tmp_path / "cwd"
    work.mkdir()
    proc = __import__("subprocess").run([*__import__("tests.sim.conftest", fromlist=["SIM"]).SIM,
                                         "create-keychain", "-p", "pw", "rel.keychain"],
                                        cwd=work, env=sim.env, capture_output=True)
    assert proc.returncode == 0
    assert list(work.iterdir()) == []
    assert (sim.home / "Library/Keychains/rel.keychain-db").exists()


def test_plain_file_is_used_only_when_there_is_no_db_file(sim):
    kcdir = sim.home / "Library/Keychains"
    sim("create-keychain", "-p", "pw", str(kcdir / "legacy.keychain-db"))
    os.rename(kcdir / "legacy.keychain-db", kcdir / "legacy.keychain")
    assert sim("unlock-keychain", "-p", "pw", "legacy.keychain").status == 0
    r = sim("show-keychain-info", "-s", "legacy.keychain")
    assert r.status == 0 and r.err.startswith('Keychain "legacy.keychain" lock-on-sleep timeout=300s')
    assert sim("add-generic-password", "-a", "a", "-s", "s", "legacy.keychain").status == 0
    assert f'keychain: "{kcdir / "legacy.keychain"}"' in sim("find-generic-password", "-s", "s", "legacy.keychain").out
    r = sim("create-keychain", "-p", "pw", "legacy.keychain")
    assert r.status == 48


def test_search_list_and_default_are_not_touched_by_create_except_login(sim):
    sim("create-keychain", "-p", "pw", "other.keychain")
    assert sim("list-keychains", "-d", "user").out == ""
    r = sim("default-keychain")
    assert r.status == 1
    sim.make_login()
    assert sim("list-keychains", "-d", "user").out == f'    "{sim.login}"\n'
    assert sim("default-keychain").out == f'    "{sim.login}"\n'
    other = str(sim.home / "Library/Keychains/other.keychain-db")
    assert sim("list-keychains", "-d", "user", "-s", "other.keychain", "login.keychain").status == 0
    assert sim("list-keychains", "-d", "user").out == f'    "{other}"\n    "{sim.login}"\n'
    full = sim("list-keychains").out.splitlines()
    assert full[:2] == [f'    "{other}"', f'    "{sim.login}"'] and len(full) == 3     # + the system keychain
    assert sim("list-keychains", "-s").status == 0 and sim("list-keychains", "-d", "user").out == ""
    assert sim("default-keychain", "-s", "other.keychain").status == 0
    assert sim("default-keychain", "-d", "user").out == f'    "{other}"\n'
    assert sim("delete-keychain", "other.keychain").status == 0
    assert sim("default-keychain").status == 1                 # delete unset the default


def test_delete_and_lock_errors(sim):
    r = sim("delete-keychain")
    assert (r.status, r.out, r.err) == (49, "", "security: SecKeychainDelete: The specified keychain is not a valid keychain file.\n")
    r = sim("lock-keychain")
    assert (r.status, r.err) == (0x25, "security: SecKeychainLock <NULL>: A default keychain could not be found.\n")
    r = sim("lock-keychain", "ghost.keychain")
    assert (r.status, r.err) == (50, "security: SecKeychainLock ghost.keychain: The specified keychain could not be found.\n")
    r = sim("unlock-keychain", "-p", "x", "ghost.keychain")
    assert r.status == 50 and r.err.startswith("security: SecKeychainUnlock ghost.keychain: ")


def test_lock_all(login):
    other = str(login.home.parent / "o.keychain")
    login("create-keychain", "-p", "pw", other)
    assert login("lock-keychain", "-a").status == 0
    assert login("show-keychain-info").status == 36 and login("show-keychain-info", other).status == 36


# --------------------------------------------------------------------------- items: errors
def test_add_errors(sim):
    r = sim("add-generic-password", "-a", "a", "-s", "s", "-w", "x")
    assert (r.status, r.err) == (0x25, "security: SecKeychainItemCreateFromContent (<default>): "
                                       "A default keychain could not be found.\n")
    r = sim("add-generic-password", "-a", "a", "-s", "s", "-w", "x", "ghost.keychain")
    assert (r.status, r.err) == (50, "security: SecKeychainItemCreateFromContent (ghost.keychain): "
                                     "The specified keychain could not be found.\n")
    sim.make_login()
    assert sim("add-generic-password", "-a", "a", "-s", "s", "-w", "x", "k1", "k2").status == 2
    sim("lock-keychain")
    r = sim("add-generic-password", "-a", "a", "-s", "s", "-w", "x")
    assert (r.status, r.err) == (36, "security: SecKeychainItemCreateFromContent (<default>): "
                                     "User interaction is not allowed.\n")


def test_update_adds_when_missing_and_matches_on_account_and_service_only(login):
    assert login("add-generic-password", "-U", "-a", "a", "-s", "s", "-l", "one", "-w", "1").status == 0
    assert login("add-generic-password", "-U", "-a", "a", "-s", "s", "-w", "2").status == 0
    out = login("find-generic-password", "-s", "s").out
    assert out.count("keychain: ") == 1 and '0x00000007 <blob>="one"' in out   # label kept
    assert login("find-generic-password", "-s", "s", "-w").out == "2\n"
    assert login("add-generic-password", "-U", "-a", "a", "-s", "s", "-l", "new", "-w", "3").status == 0
    assert '0x00000007 <blob>="new"' in login("find-generic-password", "-s", "s").out


def test_delete_needs_a_filter_and_reports_even_on_failure(login):
    login("add-generic-password", "-a", "a", "-s", "s", "-w", "x")
    assert login("delete-generic-password", "-g", "-s", "s").status == 2
    login("lock-keychain")
    r = login("delete-generic-password", "-s", "s")
    assert r.status == 36 and r.out.startswith("keychain: ") and r.err == "password has been deleted.\n"
    login("unlock-keychain", "-p", "pw-1")
    assert login("find-generic-password", "-s", "s").status == 0          # not deleted


def test_partition_list_on_a_locked_keychain_and_version_256(sim):
    sim.make_login()
    sim("add-generic-password", "-a", "a", "-s", "s", "-w", "x")
    sim("lock-keychain")
    r = sim("set-generic-password-partition-list", "-S", "apple-tool:,apple:", "-k", "bad", "-s", "s")
    assert (r.status, r.out, r.err) == (1, "", "security: SecKeychainUnlock: The user name or passphrase "
                                               "you entered is not correct.\n")
    r = sim("set-generic-password-partition-list", "-S", "apple-tool:, apple:", "-k", "pw-1", "-s", "s")
    assert r.status == 0 and r.out.startswith("keychain: ")
    assert "description: apple-tool:,  apple:\n" in sim("dump-keychain", "-a").out      # split on "," untrimmed
    kc = str(sim.home.parent / "ci.keychain")
    sim("create-keychain", "-p", "pw", kc)
    sim("add-generic-password", "-a", "a", "-s", "s", "-w", "x", kc)
    assert sim("set-generic-password-partition-list", "-S", "apple:", "-k", "pw", kc).status == 0
    assert "partition_id" not in sim("dump-keychain", "-a", kc).out


# --------------------------------------------------------------------------- command line
@pytest.mark.parametrize("prefix, command", [
    ("d", "default-keychain"), ("del", "delete-keychain"), ("delete-g", "delete-generic-password"),
    ("l", "list-keychains"), ("lo", "login-keychain"), ("loc", "lock-keychain"), ("add", "add-generic-password"),
    ("s", "set-keychain-settings"), ("set-g", "set-generic-password-partition-list"), ("set-k", "set-keychain-settings"),
    ("sh", "show-keychain-info"), ("f", "find-generic-password"), ("", "help"), ("e", "export"),
])
def test_prefix_matching_in_table_order(sim, prefix, command):
    from keychain_claims.security.options import OPTIONS
    from keychain_claims.sim import commands
    assert commands.lookup(prefix)[0] == command                       # the first match in security.c's order
    if commands.lookup(prefix)[1] is not None and prefix:
        r = sim(prefix, "-Z")
        quiet = OPTIONS[command].startswith(":")              # getopt's ':' silences its complaint
        assert r.status == 2 and r.err.startswith("" if quiet else f"{prefix}: illegal option -- Z\n")   # argv[0] as typed
        assert r.err.startswith(f"Usage: {command} ") if quiet else f"\nUsage: {command} " in r.err


def test_interactive_long_lines_split_and_quiet(login):
    pad = "x" * (4095 - len("find-generic-password -s "))
    r = login("-i", stdin=f"find-generic-password -s {pad}list-keychains -d user\n")
    assert r.out == f'    "{login.login}"\n'                       # the remainder ran as a command
    assert r.err.startswith("security: SecKeychainSearchCopyNext")
    r = login("-q", "-i", stdin="find-generic-password -s nope\n")
    assert r.status == 44 and "returned" not in r.err
    r = login("-i", stdin="bogus\nfind-generic-password -s nope\nlist-keychains\n")
    assert r.status == 0 and 'security: unknown command "bogus"\nbogus: returned 1\n' in r.err


def test_interactive_prompt_only_on_a_tty(login):
    child = pexpect.spawn(SIM_PATH(), ["-i"], env=login.env, encoding="utf-8", timeout=10)
    child.expect_exact("security> ")
    child.sendline("list-keychains -d user")
    child.expect_exact(f'    "{login.login}"')
    child.expect_exact("security> ")
    child.sendline("find-generic-password -s nope")
    child.expect_exact("find-generic-password: returned -25300")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 44


def SIM_PATH() -> str:
    from .conftest import SIM_PROGRAM
    return SIM_PROGRAM


# --------------------------------------------------------------------------- storage
def test_secrets_are_not_stored_in_the_clear(login):
    secret = "KCCANARY-not-in-the-file"
    login("add-generic-password", "-a", "a", "-s", "s", "-w", secret)
    raw = Path(login.login).read_bytes()
    assert secret.encode() not in raw and secret.encode().hex().encode() not in raw
    assert b"pw-1" not in raw
    state = b"".join(p.read_bytes() for p in login.state.iterdir() if p.is_file())
    assert secret.encode() not in state and b"pw-1" not in state


def test_wrong_magic_or_version_is_not_a_keychain(login):
    data = store.load_keychain(login.login)
    data["magic"] = "something-else"
    with open(login.login, "w") as fh:
        json.dump(data, fh)
    r = login("find-generic-password", "-s", "s", login.login)
    assert r.status == 44                              # an unreadable keychain holds no items
    r = login("show-keychain-info", login.login)
    assert (r.status, r.err) == (49, f"security: SecKeychainCopySettings {login.login}: "
                                     "The specified keychain is not a valid keychain file.\n")


def test_corrupt_item_data_control(login):
    login("add-generic-password", "-a", "a", "-s", SVC, "-w", '{"claudeAiOauth":{}}')
    control.corrupt_item_data(login.login, SVC, b'{"claudeAiOauth":{"acc', "pw-1", state=login.state)
    r = login("find-generic-password", "-s", SVC, "-w")
    assert (r.status, r.out) == (0, '{"claudeAiOauth":{"acc\n')
    with pytest.raises(ValueError):
        control.corrupt_item_data(login.login, SVC, b"x", "wrong", state=login.state)
    with pytest.raises(KeyError):
        control.corrupt_item_data(login.login, "missing", b"x", "pw-1", state=login.state)
