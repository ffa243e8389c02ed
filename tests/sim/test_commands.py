"""Each subcommand's stdout, stderr and exit status against shared/reference/security-cli.md."""
from __future__ import annotations

import re

import pytest

SVC = "Claude Code-credentials"
NOT_FOUND = "security: SecKeychainSearchCopyNext: The specified item could not be found in the keychain.\n"


def test_no_arguments_prints_usage_on_stdout_exit_2(sim):
    r = sim()
    assert r.status == 2 and r.out.startswith("Usage: security") and r.err == ""


def test_unknown_command(sim):
    r = sim("frobnicate")
    assert (r.status, r.err) == (1, 'security: unknown command "frobnicate"\n')


def test_prefix_matching_takes_the_first_in_table_order(login):
    login("add-generic-password", "-a", "u", "-s", SVC, "-w", "x")
    assert login("find-gen", "-s", SVC).status == 0
    assert login("find-generic", "-s", SVC).status == 0


def test_usage_error_goes_to_stderr_exit_2(login):
    r = login("add-generic-password", "-s", SVC)            # -a missing
    assert r.status == 2 and r.out == ""
    assert r.err.startswith("Usage: add-generic-password [-h] [-a account] [-s service]")
    assert "    -X  Specify password data to be added as a hexadecimal string\n" in r.err    # every option line
    assert "\n        Add a generic password item.\n" in r.err
    assert login("find-generic-password", "-Z").status == 2
    assert login("delete-generic-password").status == 2        # no filter


def test_create_keychain_resolves_relative_names_and_versions(sim):
    assert sim("create-keychain", "-p", "pw", "login.keychain") == type(sim("-h"))(0, "", "")
    assert (sim.home / "Library/Keychains/login.keychain-db").exists()
    other = sim.home.parent / "tmpkc.keychain"
    assert sim("create-keychain", "-p", "pw", str(other)).status == 0
    assert other.exists()                                        # other paths as given, no -db
    def dump(path):
        return sim("add-generic-password", "-a", "a", "-s", "s", "-w", "x", path).status == 0 and \
            sim("find-generic-password", "-s", "s", path).out
    assert "version: 512" in dump(sim.login.replace("-db", "")) or "version: 512" in dump(sim.login)
    assert "version: 256" in dump(str(other))


def test_create_keychain_duplicate_is_48(login):
    r = login("create-keychain", "-p", "x", "login.keychain")
    assert r.status == 48
    assert r.err == "security: SecKeychainCreate login.keychain: A keychain with the same name already exists.\n"


def test_delete_keychain(login):
    assert login("delete-keychain", login.login).status == 0
    r = login("delete-keychain", login.login)
    assert (r.status, r.err) == (50, "security: SecKeychainDelete: The specified keychain could not be found.\n")
    assert login("list-keychains", "-d", "user").out == ""


def test_list_and_default_keychain_format(login):
    assert login("list-keychains", "-d", "user").out == f'    "{login.login}"\n'
    assert login("default-keychain").out == f'    "{login.login}"\n'
    assert login("default-keychain", "-s").status == 0
    r = login("default-keychain")
    assert (r.status, r.err) == (1, "security: SecKeychainCopyDefault: A default keychain could not be found.\n")
    assert login("list-keychains", "extra").status == 2
    r = login("list-keychains", "-d", "galaxy")
    assert r.status == 2 and r.err.startswith("security: Invalid domain: galaxy\n")


def test_show_keychain_info_goes_to_stderr(login):
    r = login("show-keychain-info", login.login)
    assert (r.status, r.out, r.err) == (0, "", f'Keychain "{login.login}" no-timeout\n')
    assert login("set-keychain-settings", "-l", "-t", "600", login.login).status == 0
    assert login("show-keychain-info").err == 'Keychain "<NULL>" lock-on-sleep timeout=600s\n'


def test_new_keychain_has_300s_and_lock_on_sleep(sim):
    sim("create-keychain", "-p", "pw", "x.keychain")
    assert sim("show-keychain-info", "x.keychain").err == 'Keychain "x.keychain" lock-on-sleep timeout=300s\n'


def test_locked_keychain_without_gui_is_36(login):
    assert login("lock-keychain", login.login).status == 0
    r = login("show-keychain-info", login.login)
    assert (r.status, r.err) == (36, f"security: SecKeychainCopySettings {login.login}: User interaction is not allowed.\n")


def test_unlock_wrong_password_on_locked_is_51_and_any_password_when_unlocked(login):
    assert login("unlock-keychain", "-p", "nonsense", login.login).status == 0      # already unlocked
    login("lock-keychain", login.login)
    r = login("unlock-keychain", "-p", "nonsense", login.login)
    assert r.status == 51
    assert r.err == f"security: SecKeychainUnlock {login.login}: The user name or passphrase you entered is not correct.\n"
    assert login("unlock-keychain", "-p", "pw-1", login.login).status == 0


def test_timeout_relocks_on_the_injected_clock(login):
    from keychain_claims.sim import control
    control.advance_clock(login.state, 0)      # the clock frozen first: no real second counts (a loaded host)
    login("set-keychain-settings", "-t", "5", login.login)
    control.advance_clock(login.state, 4)
    assert login("show-keychain-info", login.login).status == 0               # use resets the idle timer
    control.advance_clock(login.state, 6)
    assert login("show-keychain-info", login.login).status == 36


def test_add_find_and_the_attribute_dump(login):
    assert login("add-generic-password", "-a", "alice", "-s", SVC, "-w", "secret").status == 0
    r = login("find-generic-password", "-s", SVC)
    assert r.status == 0 and r.err == ""
    lines = r.out.splitlines()
    assert lines[:4] == [f'keychain: "{login.login}"', "version: 512", 'class: "genp"', "attributes:"]
    tags = [re.match(r' {4}(0x[0-9A-F]{8} |"....")', l).group(1) for l in lines[4:]]
    assert tags == ["0x00000007 ", "0x00000008 ", '"acct"', '"cdat"', '"crtr"', '"cusi"', '"desc"', '"gena"',
                    '"icmt"', '"invi"', '"mdat"', '"nega"', '"prot"', '"scrp"', '"svce"', '"type"']
    assert f'    0x00000007 <blob>="{SVC}"' in lines and '    "acct"<blob>="alice"' in lines
    assert '    "crtr"<uint32>=<NULL>' in lines and "secret" not in r.out
    cdat = next(l for l in lines if l.startswith('    "cdat"'))
    assert re.fullmatch(r'    "cdat"<timedate>=0x(3[0-9]){14}5A00  "\d{14}Z\\000"', cdat)


def test_find_not_found_is_44(login):
    r = login("find-generic-password", "-s", "nope")
    assert (r.status, r.out, r.err) == (44, "", NOT_FOUND)


def test_both_account_and_service_ignore_other_filters(login):
    login("add-generic-password", "-a", "a", "-s", "s", "-l", "label", "-w", "x")
    assert login("find-generic-password", "-a", "a", "-s", "s", "-l", "other").status == 0
    assert login("find-generic-password", "-s", "s", "-l", "other").status == 44


def test_duplicate_is_45(login):
    login("add-generic-password", "-a", "a", "-s", "s", "-w", "x")
    r = login("add-generic-password", "-a", "a", "-s", "s", "-w", "y")
    assert r.status == 45
    assert r.err == "security: SecKeychainItemCreateFromContent (<default>): The specified item already exists in the keychain.\n"


@pytest.mark.parametrize("secret, printed", [
    ("plain text", "plain text"), ('{"a": "ü"}', '{"a": "ü"}'.encode().hex()), ("two\nlines", b"two\nlines".hex()),
])
def test_w_prints_hex_when_any_byte_is_not_printable(login, secret, printed):
    login("add-generic-password", "-a", "a", "-s", "s", "-X", secret.encode().hex())
    r = login("find-generic-password", "-a", "a", "-s", "s", "-w")
    assert (r.status, r.out, r.err) == (0, printed + "\n", "")


def test_g_prints_dump_then_password_on_stderr(login):
    login("add-generic-password", "-a", "a", "-s", "s", "-w", "back\\slash")
    r = login("find-generic-password", "-s", "s", "-g")
    assert r.out.startswith("keychain: ") and r.err == 'password: 0x6261636B5C736C617368  "back\\134slash"\n'


def test_hex_rules(login):
    r = login("add-generic-password", "-a", "a", "-s", "s", "-X", "zz")
    assert r.status == 2                                        # result 2: security prints the usage after it
    assert r.err.startswith("security: Unable to convert password data (-X must specify valid hex digits)\n"
                            "Usage: add-generic-password [-h] ")
    assert login("add-generic-password", "-a", "a", "-s", "s", "-X", "414").status == 0       # odd: zero-padded
    assert login("find-generic-password", "-s", "s", "-w").out == "A@\n"                 # 0x41 0x40
    r = login("add-generic-password", "-a", "b", "-s", "s", "-c", "abc")
    assert (r.status, r.err) == (1, "Error: four-character types must be exactly 4 characters long.\n")


def test_update_in_place_keeps_creation_date_and_resets_partition(login):
    from keychain_claims.security import dump
    from keychain_claims.sim import control
    login("add-generic-password", "-a", "a", "-s", "s", "-w", "one")
    login("set-generic-password-partition-list", "-S", "apple-tool:,teamid:X", "-k", "pw-1", "-s", "s")
    before = dump.find(login("find-generic-password", "-s", "s").out, "s")
    control.advance_clock(login.state, 3600)
    assert login("add-generic-password", "-U", "-a", "a", "-s", "s", "-w", "two").status == 0
    after = dump.find(login("dump-keychain", "-a").out, "s")
    assert after.get("cdat") == before.get("cdat") and after.get("mdat") > before.get("mdat")
    assert after.partition_ids() == ["apple-tool:"]
    assert login("find-generic-password", "-s", "s", "-w").out == "two\n"


def test_delete_prints_dump_then_message(login):
    login("add-generic-password", "-a", "a", "-s", "s", "-w", "x")
    r = login("delete-generic-password", "-s", "s")
    assert r.status == 0 and r.out.startswith("keychain: ") and r.err == "password has been deleted.\n"
    assert login("delete-generic-password", "-s", "s").err == NOT_FOUND


def test_default_acl_view(login):
    login("add-generic-password", "-a", "a", "-s", "s", "-l", "the label", "-w", "x")
    out = login("dump-keychain", "-a").out
    assert "access: 5 entries\n    entry 0:\n" in out
    # untagged entries, then ___INTEGRITY___, then ___PARTITION___ (securityd's tag order), owner last
    kinds = re.findall(r"    entry \d+:\n        authorizations \(\d+\): (\w+)", out)
    assert kinds == ["encrypt", "decrypt", "integrity", "partition_id", "change_acl"]
    assert ("    entry 1:\n"
            "        authorizations (6): decrypt derive export_clear export_wrapped mac sign\n"
            "        don't-require-password\n        description: the label\n        applications (1):\n"
            "            0: /usr/bin/security (OK)\n"
            '                requirement: identifier "com.apple.security" and anchor apple\n') in out
    assert ("    entry 3:\n"
            "        authorizations (1): partition_id\n        don't-require-password\n"
            "        description: apple-tool:\n        applications: <null>\n") in out
    assert ("    entry 0:\n        authorizations (1): encrypt\n        don't-require-password\n"
            "        description: the label\n        applications: <null>\n") in out
    assert re.search(r"authorizations \(1\): integrity\n        don't-require-password\n"
                     r"        description: [0-9A-F]{64}\n        applications: <null>\n", out)
    assert "    entry 4:\n        authorizations (1): change_acl\n" in out


def test_acl_view_of_a_version_256_keychain_has_no_partition(sim):
    kc = str(sim.home.parent / "ci.keychain-db")
    sim("create-keychain", "-p", "pw", kc)
    sim("add-generic-password", "-a", "a", "-s", "s", "-w", "x", "-T", "/usr/bin/codesign", "-T", "group://g", kc)
    out = sim("dump-keychain", "-a", kc).out
    assert "version: 256" in out and "partition_id" not in out and "integrity" not in out
    assert "access: 3 entries" in out
    assert ("        applications (2):\n            0: /usr/bin/codesign (OK)\n"
            "                requirement: none\n            1: group://g (OK)\n") in out


def test_trusted_nobody_prompts_and_without_gui_fails_36_silently(login):
    login("add-generic-password", "-a", "a", "-s", "s", "-w", "x", "-T", "")
    r = login("find-generic-password", "-s", "s", "-w")
    assert (r.status, r.out, r.err) == (36, "", "")
    assert login("find-generic-password", "-s", "s").status == 0         # metadata: no prompt
    login("add-generic-password", "-a", "b", "-s", "t", "-w", "x", "-A")
    assert login("find-generic-password", "-s", "t", "-w").out == "x\n"   # -A: any application


def test_partition_is_checked_only_on_version_512(sim):
    other = str(sim.home.parent / "v256.keychain")
    sim("create-keychain", "-p", "pw", other)
    caller = '{"path": "/Applications/X.app/x", "identifier": "x", "signing": "developer-id", "team": "T"}'
    for kc in (other,):
        sim("add-generic-password", "-a", "a", "-s", "s", "-w", "x", "-A", kc)
        r = sim("find-generic-password", "-s", "s", "-w", kc, env={"KEYCHAIN_SIM_CALLER": caller})
        assert r.out == "x\n"                                       # no partition list in v256
    sim.make_login()
    sim("add-generic-password", "-a", "a", "-s", "s", "-w", "x", "-A")
    r = sim("find-generic-password", "-s", "s", "-w", sim.login, env={"KEYCHAIN_SIM_CALLER": caller})
    assert r.status == 36                                           # v512: teamid:T not in apple-tool:


def test_partition_list_needs_the_right_password(login):
    login("add-generic-password", "-a", "a", "-s", "s", "-w", "x")
    r = login("set-generic-password-partition-list", "-S", "apple:", "-k", "bad", "-s", "s")
    assert r.status == 1
    assert r.err.endswith("security: SecKeychainItemSetAccessWithPassword: The user name or passphrase you entered is not correct.\n")
    r = login("set-generic-password-partition-list", "-S", "apple:", "-k", "pw-1", "-s", "nope")
    assert (r.status, r.err) == (1, "security: SecItemCopyMatching: The specified item could not be found in the keychain.\n")
    assert login("set-generic-password-partition-list", "-k", "pw-1", "-s", "s").status == 2


def test_interactive_mode(login):
    script = ('add-generic-password -U -a "me" -s "Claude Code-credentials" -X "7b7d"\n'
              "find-generic-password -s nope\n")
    r = login("-i", stdin=script)
    assert r.status == 44 and "find-generic-password: returned -25300\n" in r.err   # the int result
    assert "security> " not in r.err                                  # stdin is not a tty
    assert login("-i", stdin="find-generic-password -s nope\n\n").status == 0   # empty line resets
    assert login("find-generic-password", "-s", SVC, "-w").out == "{}\n"


def test_interactive_quoting(login):
    r = login("-i", stdin="add-generic-password -a 'two words' -s \"a\\\"b\" -w x\n")
    assert r.status == 0
    assert '    "acct"<blob>="two words"' in login("find-generic-password", "-s", 'a"b').out


def test_corrupt_keychain_file_is_49(login):
    with open(login.login, "w") as fh:
        fh.write("garbage")
    r = login("show-keychain-info", login.login)
    assert r.status == 49 and r.err.endswith("The specified keychain is not a valid keychain file.\n")


def test_events_record_calls_without_secrets_and_prompts(login):
    from keychain_claims.sim import control
    login("add-generic-password", "-a", "a", "-s", "s", "-w", "hunter2", "-T", "")
    login("find-generic-password", "-s", "s", "-w")
    events = control.events(login.state)
    assert "hunter2" not in str(events)
    calls = [e for e in events if e["event"] == "call"]
    assert calls[-2]["argv"][-4:] == ["-w", "<secret>", "-T", ""]
    prompts = [e for e in events if e["event"] == "prompt"]
    assert prompts == [{**prompts[0], "kind": "item-access", "app": "security", "item": "s", "answer": "no-ui",
                        "ui": "none"}]
