"""Behaviour read from Apple's security(1) source (SecurityTool/macOS, Security-61901) that the
real transcripts do not all cover: the command table, usage texts, -v, -i's readline and
split_line, help, and the subcommands next to the article's."""
from __future__ import annotations

from keychain_claims.security import commands as table
from keychain_claims.security.options import OPTIONS
from keychain_claims.sim import commands

SVC = "Claude Code-credentials"


def test_usage_is_the_command_tables_full_text_on_stderr(login):
    r = login("find-generic-password", "-Z")
    name, usage, help_text = next(row for row in table.COMMANDS if row[0] == "find-generic-password")
    assert r.status == 2 and r.out == ""
    assert r.err == f"find-generic-password: illegal option -- Z\nUsage: {name} {usage}\n        {help_text}\n"
    assert "    -w  Display only the password on stdout\n" in r.err


def test_missing_option_argument_is_getopts_other_complaint(login):
    r = login("unlock-keychain", "-p")
    assert r.status == 2 and r.err.startswith("unlock-keychain: option requires an argument -- p\nUsage: unlock-keychain ")


def test_bad_global_option_prints_security_usage_on_stdout(sim):
    r = sim("-x")
    assert r.status == 2 and r.err == "security: illegal option -- x\n"
    assert r.out.startswith(table.GLOBAL_USAGE) and "    login-keychain                       Display or set the login keychain.\n" in r.out


def test_verbose_echoes_the_resolved_command_before_running_it(login):
    login("add-generic-password", "-a", "me", "-s", SVC, "-w", "tok")
    r = login("-v", "find-g", "-s", SVC, "-a", "me", "-w")
    assert r.err == f'find-generic-password "-s" "{SVC}" "-a" "me" "-w"\n' and r.out == "tok\n"


def test_help_lists_the_table_or_one_commands_usage(sim):
    r = sim("help")
    assert r.status == 0 and r.out.splitlines()[0] == "    help                                 Show all commands, or show usage for a command."
    assert len(r.out.splitlines()) == len(table.COMMANDS)
    r = sim("-h", "lo")
    assert r.out.startswith("Usage: login-keychain [-h] [-d user|system|common|dynamic] [-s [keychain]]\n")
    r = sim("help", "nonesuch")
    assert (r.status, r.err) == (1, "security: help: no such command: nonesuch\n")


def test_a_command_the_simulator_does_not_model_says_so(sim):
    r = sim("import", "x.p12")
    assert r.status == 1 and r.err == "security: import: not simulated by keychain-sim\n"


def test_interactive_exit_and_quit_are_unknown_commands_and_reading_goes_on(login):
    r = login("-i", stdin="exit\nquit\nlist-keychains -d user\n")
    assert r.err == 'security: unknown command "exit"\nexit: returned 1\nsecurity: unknown command "quit"\nquit: returned 1\n'
    assert r.out == f'    "{login.login}"\n'


def test_interactive_last_line_without_newline_is_never_run(login):
    r = login("-i", stdin="list-keychains -d user\nlist-keychains -d user")
    assert r.out == f'    "{login.login}"\n'


def test_p_prompt_is_interactive_mode(login):
    r = login("-p", "kc> ", stdin="list-keychains -d user\n")
    assert r.status == 0 and r.out == f'    "{login.login}"\n' and "kc> " not in r.err      # prompt only on a tty


def test_a_command_with_i_runs_the_command_not_stdin(login):
    r = login("-i", "list-keychains", "-d", "user", stdin="bogus\n")
    assert r.out == f'    "{login.login}"\n' and "bogus" not in r.err


def test_R_is_accepted(login):
    assert login("-R", "list-keychains", "-d", "user").out == f'    "{login.login}"\n'


def test_error_prints_each_code_and_returns_1(sim):
    r = sim("error", "-25300", "0xFFFF9D24", "0")
    assert r.status == 1
    assert r.out == ("Error: 0xFFFF9D2C -25300 The specified item could not be found in the keychain.\n"
                     "Error: 0xFFFF9D24 -25308 User interaction is not allowed.\n"
                     "Error: 0x00000000 0 No error.\n")


def test_internet_password_round_trip(login):
    assert login("add-internet-password", "-a", "me", "-s", "api.example.com", "-r", "htps", "-w", "pw").status == 0
    r = login("add-internet-password", "-a", "me", "-s", "api.example.com", "-r", "htps", "-w", "pw")
    assert r.status == 45 and r.err == ("security: SecKeychainAddInternetPassword <NULL>: "
                                        "The specified item already exists in the keychain.\n")
    r = login("find-internet-password", "-s", "api.example.com", "-g")
    assert r.status == 0 and 'class: "inet"\n' in r.out and '    "ptcl"<uint32>="htps"\n' in r.out
    assert '    "atyp"<blob>="dflt"\n' in r.out and r.err == 'password: "pw"\n'
    assert login("find-generic-password", "-s", "api.example.com").status == 44        # another class
    assert login("delete-internet-password", "-s", "api.example.com").err == "password has been deleted.\n"
    assert login("find-internet-password", "-s", "api.example.com").status == 44


def test_set_keychain_password_changes_the_password_and_keeps_the_items(login):
    login("add-generic-password", "-a", "me", "-s", SVC, "-w", "tok")
    r = login("set-keychain-password", "-o", "wrong", "-p", "new")
    assert r.status == 51 and r.err == ('security: error changing password for "<NULL>": '
                                        "The user name or passphrase you entered is not correct.\n")
    assert login("set-keychain-password", "-o", "pw-1", "-p", "new").status == 0
    login("lock-keychain")
    assert login("unlock-keychain", "-p", "pw-1").status == 51
    assert login("unlock-keychain", "-p", "new").status == 0
    assert login("find-generic-password", "-s", SVC, "-w").out == "tok\n"


def test_set_key_partition_list_finds_no_key_in_a_password_only_keychain(login):
    r = login("set-key-partition-list", "-S", "apple-tool:,apple:", "-s", "-k", "pw-1")
    assert (r.status, r.err) == (1, "security: SecItemCopyMatching: The specified item could not be found in the keychain.\n")
    login("lock-keychain")                       # an unlocked keychain takes any password [SRC SecKeychainUnlock]
    r = login("set-key-partition-list", "-S", "apple:", "-k", "wrong")
    assert (r.status, r.err) == (1, "security: SecKeychainUnlock: The user name or passphrase you entered is not correct.\n")


def test_new_commands_are_in_the_options_table_the_shim_pins_with():
    for name in ("add-internet-password", "find-internet-password", "delete-internet-password",
                 "set-internet-password-partition-list", "set-key-partition-list", "set-keychain-password"):
        assert name in OPTIONS and commands.lookup(name)[1] is not None
