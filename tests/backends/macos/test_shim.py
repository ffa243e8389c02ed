"""On macOS every `security` call is pinned to the scratch keychain; anything that would reach
another keychain or the user's preferences is refused.  Pure functions, tested on any host."""
from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest

from keychain_claims.backends import MacOSBackend
from keychain_claims.backends.macos.shim import Refused, pin_argv, pin_stdin
from keychain_claims.security.lines import split_line

HOME = "/sandbox/home"
KC = "/sandbox/home/Library/Keychains/keychain-claims-scratch.keychain-db"   # never login.keychain


@pytest.mark.parametrize("argv, pinned", [
    (["find-generic-password", "-s", "Claude Code-credentials", "-w"], [..., KC]),
    (["find-generic-password", "-l", "Claude Code-credentials"], [..., KC]),
    (["find-gen", "-a", "u", "-s", "s"], [..., KC]),
    (["delete-generic-password", "-s", "Claude Code-credentials"], [..., KC]),
    (["add-generic-password", "-U", "-a", "u", "-s", "s", "-X", "7b7d"], [..., KC]),
    (["add-generic-password", "-a", "u", "-s", "s", "-w"], [..., KC]),
    (["dump-keychain", "-a"], [..., KC]),
    (["show-keychain-info"], [..., KC]),
    (["show-keychain-info", KC], None),
    (["show-keychain-info", "login.keychain"], ["show-keychain-info", KC]),     # the article's login keychain -> scratch
    (["show-keychain-info", HOME + "/Library/Keychains/login.keychain-db"], ["show-keychain-info", KC]),
    (["set-keychain-settings", "-t", "300"], [..., KC]),
    (["unlock-keychain", KC], None),
    (["create-keychain", KC], None),
    (["list-keychains", "-d", "user"], None),
    (["default-keychain"], None),
    (["add-generic-password", "-h"], None),
])
def test_pinned(argv, pinned):
    expected = argv if pinned is None else [*argv, KC] if pinned == [..., KC] else pinned
    assert pin_argv(argv, KC, HOME) == expected


@pytest.mark.parametrize("argv, why", [
    (["find-generic-password", "-s", "x", "/Users/me/Library/Keychains/login.keychain-db"], "not the scratch keychain"),
    (["show-keychain-info", "/Library/Keychains/System.keychain"], "not the scratch keychain"),
    (["delete-keychain", "/Users/me/Library/Keychains/other.keychain"], "not the scratch keychain"),
    (["create-keychain", "/Users/me/Library/Keychains/other.keychain-db"], "not the scratch keychain"),
    (["delete-keychain"], "must name the scratch keychain"),
    (["default-keychain", "-s", KC], "change the user's keychain preferences"),
    (["list-keychains", "-d", "user", "-s", KC], "change the user's keychain preferences"),
    (["lock-keychain", "-a"], "lock every keychain"),
    (["login-keychain"], "does not pin"),
    (["lo"], "is security's login-keychain"),                    # the real table's order: not lock-keychain
    (["login-keychain", "-s", "/Users/me/Library/Keychains/login.keychain-db"], "does not pin"),
    (["import", "x.p12"], "does not pin"),
    (["export", "-k", "login.keychain"], "does not pin"),
    (["e"], "is security's export"),
    (["set-internet-password-partition-list", "-S", "apple:", "-k", "pw",
      "/Library/Keychains/System.keychain"], "not the scratch keychain"),
])
def test_refused(argv, why):
    with pytest.raises(Refused, match=why):
        pin_argv(argv, KC, HOME)


def test_stdin_lines_are_pinned_and_requoted():
    text = ('add-generic-password -U -a "alice smith" -s "Claude Code-credentials" -X "7b7d"\n'
            "\n"
            "find-generic-password -a 'o\\'brien' -s \"say \\\"hi\\\"\" -w\n")
    out = pin_stdin(text, KC, HOME).splitlines()
    assert split_line(out[0]) == ["add-generic-password", "-U", "-a", "alice smith", "-s",
                                  "Claude Code-credentials", "-X", "7b7d", KC]
    assert out[1] == ""
    assert split_line(out[2])[-1] == KC and split_line(out[2])[4] == 'say "hi"'


def test_stdin_refuses_a_foreign_keychain():
    with pytest.raises(Refused):
        pin_stdin("find-generic-password -s x /Library/Keychains/System.keychain\n", KC, HOME)


def test_shim_refusal_is_one_line_exit_1(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "keychain_claims.backends.macos.shim", "--keychain", KC, "--real", "/bin/echo",
                           "--", "default-keychain", "-s", "/x"], capture_output=True, text=True,
                          env={"HOME": HOME, "PATH": "/usr/bin:/bin"}, cwd=tmp_path.parent)
    assert proc.returncode == 1
    assert proc.stderr == "keychain-claims shim: refused: default-keychain -s would change the user's keychain preferences\n"


def test_shim_execs_the_real_tool_with_the_pinned_argv(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "keychain_claims.backends.macos.shim", "--keychain", KC, "--real", "/bin/echo",
                           "--", "find-generic-password", "-s", "Claude Code-credentials", "-w"],
                          capture_output=True, text=True, env={"HOME": HOME, "PATH": "/usr/bin:/bin"})
    assert proc.stdout == f"find-generic-password -s Claude Code-credentials -w {KC}\n"


def test_the_macos_backends_shim_script_pins_calls(tmp_path):
    """The script the macOS backend writes into the sandbox, run as a caller would run it."""
    class EchoMac(MacOSBackend):
        path = "/bin/echo"
    box = SimpleNamespace(keychain=SimpleNamespace(path=KC), root=tmp_path)
    script = tmp_path / "security"
    script.write_text(EchoMac(real_dialogs=True).open_session(box).shim())   # no session launcher: the pinning is the subject
    script.chmod(0o755)
    env = {"HOME": HOME, "PATH": "/usr/bin:/bin", "PYTHONPATH": "/nonexistent"}
    proc = subprocess.run([str(script), "find-generic-password", "-s", "Claude Code-credentials", "-w"],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, f"find-generic-password -s Claude Code-credentials -w {KC}\n")
    assert EchoMac().open_session(box).call_log() == [["find-generic-password", "-s", "Claude Code-credentials", "-w"]]   # as asked
    proc = subprocess.run([str(script), "lock-keychain", "-a"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (1, "keychain-claims shim: refused: lock-keychain -a would lock "
                                                 "every keychain of the user\n")


# --------------------------------------------------------------------------- holes seen in security.c
def _fake_security(tmp_path):
    """A stand-in for /usr/bin/security that prints its argv, then what it read on stdin."""
    fake = tmp_path / "security"
    fake.write_text('#!/bin/sh\necho "argv: $*"\nexec cat\n')
    fake.chmod(0o755)
    return str(fake)


def _shim(tmp_path, *argv, stdin=""):
    return subprocess.run([sys.executable, "-m", "keychain_claims.backends.macos.shim", "--keychain", KC, "--real",
                           _fake_security(tmp_path), "--", *argv], input=stdin, capture_output=True, text=True,
                          env={"HOME": HOME, "PATH": "/usr/bin:/bin"})


def test_global_R_is_an_option_and_the_command_is_still_pinned(tmp_path):
    proc = _shim(tmp_path, "-R", "find-generic-password", "-s", "x", "-w")
    assert (proc.returncode, proc.stdout) == (0, f"argv: -R find-generic-password -s x -w {KC}\n")


def test_global_p_prompt_is_interactive_mode_and_its_stdin_is_pinned(tmp_path):
    proc = _shim(tmp_path, "-p", "kc> ", stdin="find-generic-password -s x -w\n")
    assert proc.returncode == 0
    argv_line, *lines = proc.stdout.splitlines()
    assert argv_line == "argv: -p kc> "
    assert [split_line(line) for line in lines] == [["find-generic-password", "-s", "x", "-w", KC]]
    proc = _shim(tmp_path, "-pkc>", stdin="dump-keychain /Library/Keychains/System.keychain\n")
    assert (proc.returncode, proc.stdout) == (1, "")
    assert "not the scratch keychain" in proc.stderr


def test_p_with_a_command_runs_the_command_pinned(tmp_path):
    proc = _shim(tmp_path, "-i", "show-keychain-info", stdin="")
    assert (proc.returncode, proc.stdout) == (0, f"argv: -i show-keychain-info {KC}\n")   # argc > 0: not interactive


@pytest.mark.parametrize("typed, name", [("lo", "login-keychain"), ("log", "login-keychain"), ("e", "export"),
                                         ("i", "import"), ("f", "find-generic-password"), ("loc", "lock-keychain")])
def test_prefixes_resolve_in_the_real_tables_order(typed, name):
    if name in ("find-generic-password", "lock-keychain"):
        assert pin_argv([typed], KC, HOME) == [typed, KC]
    else:
        with pytest.raises(Refused, match=f"is security's {name}"):
            pin_argv([typed], KC, HOME)


def test_a_pinned_line_over_4095_bytes_is_refused():
    room = 4095 - len(f"find-generic-password -s  {KC}")
    fits = f"find-generic-password -s {'x' * room}\n"
    assert len(split_line(pin_stdin(fits, KC, HOME))[2]) == room             # exactly 4095 bytes pinned: sent
    with pytest.raises(Refused, match="at most 4095 bytes"):
        pin_stdin(f"find-generic-password -s {'x' * (room + 1)}\n", KC, HOME)


def test_a_line_security_would_split_is_pinned_piece_by_piece():
    """security reads 4095 bytes, runs them, then runs the rest of the line as another command:
    the shim cuts where security cuts, so the tail is pinned (here: refused) too."""
    head = "x" * 4095                                   # an unknown command: security says so, reaches nothing
    assert pin_stdin(head + "show-keychain-info\n", KC, HOME).splitlines() == [head, f"show-keychain-info {KC}"]
    with pytest.raises(Refused, match="not the scratch keychain"):
        pin_stdin(head + "dump-keychain /Library/Keychains/System.keychain\n", KC, HOME)


def test_a_last_line_without_newline_is_dropped_as_security_drops_it():
    assert pin_stdin("show-keychain-info", KC, HOME) == ""
    out = pin_stdin("show-keychain-info\nfind-generic-password -s x", KC, HOME)
    assert [split_line(line) for line in out.splitlines()] == [["show-keychain-info", KC]]
    assert out.endswith("\n")


def test_exit_and_quit_are_not_commands_and_end_nothing():
    out = pin_stdin("exit\nquit\nfind-generic-password -s x\n", KC, HOME)
    assert [split_line(line) for line in out.splitlines()] == [["exit"], ["quit"], ["find-generic-password", "-s", "x", KC]]
    with pytest.raises(Refused):
        pin_stdin("quit\ndump-keychain /Library/Keychains/System.keychain\n", KC, HOME)


def test_help_and_error_reach_no_keychain():
    assert pin_argv(["help", "lo"], KC, HOME) == ["help", "lo"]
    assert pin_argv(["error", "-25300"], KC, HOME) == ["error", "-25300"]


# ---------------------------------------------------------------- issue 29, point 1: a second scratch keychain
OTHER = "/sandbox/home/Library/Keychains/other.keychain-db"


def test_a_second_keychain_in_the_sandbox_is_the_sandboxs_own(tmp_path):
    """Before: the scenario's own set-up (create-keychain …/other.keychain-db, then make it the
    default) was refused as "not the scratch keychain", and the strict xfail counted the refusal as
    the finding holding.  A keychain in the scratch keychain's folder is the sandbox's; the search
    list and default keychain it sets are the sandbox's (a file beside the keychain), never the
    user's, and a command naming no keychain goes where they say."""
    from keychain_claims.backends.macos.shim import SandboxPrefs
    prefs = SandboxPrefs(KC, str(tmp_path / "prefs.json"))
    for argv in (["create-keychain", OTHER], ["lock-keychain", OTHER], ["unlock-keychain", OTHER]):
        assert pin_argv(argv, KC, HOME, prefs) == argv
    assert pin_argv(["list-keychains", "-d", "user", "-s", KC, OTHER], KC, HOME, prefs) == []
    assert pin_argv(["default-keychain", "-s", OTHER], KC, HOME, prefs) == []
    prefs.save()
    again = SandboxPrefs(KC, str(tmp_path / "prefs.json"))
    assert pin_argv(["add-generic-password", "-U", "-a", "u", "-s", "s", "-w", "x"], KC, HOME, again)[-1] == OTHER
    assert pin_argv(["find-generic-password", "-s", "s", "-w"], KC, HOME, again)[-2:] == [KC, OTHER]
    assert pin_stdin("add-generic-password -U -a u -s s -X 7b\ndefault-keychain -s " + KC + "\n",
                     KC, HOME, again).split() [-1] == OTHER
    assert again.default == KC                                 # the -i line set it back, after the write


@pytest.mark.parametrize("argv", [
    ["default-keychain", "-s", "/Users/me/Library/Keychains/login.keychain-db"],
    ["default-keychain", "-d", "system", "-s", OTHER],
    ["list-keychains", "-d", "common", "-s", KC],
    ["list-keychains", "-s", KC, "/Library/Keychains/System.keychain"],
])
def test_the_users_preferences_stay_refused(argv, tmp_path):
    from keychain_claims.backends.macos.shim import SandboxPrefs
    with pytest.raises(Refused, match="change the user's keychain preferences"):
        pin_argv(argv, KC, HOME, SandboxPrefs(KC, str(tmp_path / "p.json")))
