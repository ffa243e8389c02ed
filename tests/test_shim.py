"""On macOS every `security` call is pinned to the scratch keychain; anything that would reach
another keychain or the user's preferences is refused.  Pure functions, tested on any host."""
from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest

from keychain_claims.backends import MacOSBackend
from keychain_claims.backends.macos.shim import Refused, pin_argv, pin_stdin
from keychain_claims.sim.cli import split_line

HOME = "/sandbox/home"
KC = "/sandbox/home/Library/Keychains/login.keychain-db"


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
    (["show-keychain-info", "login.keychain"], None),            # relative: resolves into the sandbox HOME
    (["set-keychain-settings", "-t", "300"], [..., KC]),
    (["unlock-keychain", KC], None),
    (["create-keychain", KC], None),
    (["list-keychains", "-d", "user"], None),
    (["default-keychain"], None),
    (["add-generic-password", "-h"], None),
])
def test_pinned(argv, pinned):
    expected = argv if pinned is None else [*argv, KC]
    assert pin_argv(argv, KC, HOME) == expected


@pytest.mark.parametrize("argv, why", [
    (["find-generic-password", "-s", "x", "/Users/me/Library/Keychains/login.keychain-db"], "not the scratch keychain"),
    (["show-keychain-info", "/Library/Keychains/System.keychain"], "not the scratch keychain"),
    (["delete-keychain", "other.keychain"], "not the scratch keychain"),
    (["delete-keychain"], "must name the scratch keychain"),
    (["default-keychain", "-s", KC], "change the user's keychain preferences"),
    (["list-keychains", "-d", "user", "-s", KC], "change the user's keychain preferences"),
    (["lock-keychain", "-a"], "lock every keychain"),
    (["login-keychain"], "unknown command"),
    (["import", "x.p12"], "unknown command"),
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
    script.write_text(EchoMac().shim(box))
    script.chmod(0o755)
    env = {"HOME": HOME, "PATH": "/usr/bin:/bin", "PYTHONPATH": "/nonexistent"}
    proc = subprocess.run([str(script), "find-generic-password", "-s", "Claude Code-credentials", "-w"],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, f"find-generic-password -s Claude Code-credentials -w {KC}\n")
    assert EchoMac().call_log(box) == [["find-generic-password", "-s", "Claude Code-credentials", "-w", KC]]
    proc = subprocess.run([str(script), "lock-keychain", "-a"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (1, "keychain-claims shim: refused: lock-keychain -a would lock "
                                                 "every keychain of the user\n")
