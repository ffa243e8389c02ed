"""The pexpect drivers: prompts answered, streams kept apart, statuses read back, secrets redacted."""
from __future__ import annotations

import textwrap

import pytest

from keychain_claims.backends import Backend, Session
from keychain_claims.fakes import Fakes
from keychain_claims.security.prompts import Responder
from keychain_claims.harness.sandbox import Sandbox


class ScriptBackend(Backend):
    """A `security` that is a small shell script: enough to test the drivers."""
    name, simulated, label = "script", True, "test script"

    def __init__(self, script: str):
        self.script = script

    def unavailable(self):
        return None

    def security_command(self):
        return ["/bin/sh", "-c", self.script, "security"]

    def open_session(self, sandbox):
        return ScriptSession(self, sandbox)


class ScriptSession(Session):
    def prepare_keychain(self):
        pass

    def teardown_keychain(self):
        pass

    def advance_clock(self, seconds):           # the world's actions: not what these tests drive
        raise NotImplementedError

    restart = as_caller = advance_clock


FAKE = textwrap.dedent(r'''
    case "$1" in
      ask)  printf 'password for new keychain: ' >/dev/tty; stty -echo </dev/tty; read -r pw </dev/tty; stty echo </dev/tty
            printf '\n' >/dev/tty; echo "got ${#pw} chars"; echo "to stderr" >&2; exit 3 ;;
      echo) shift; printf '%s\n' "$@" ;;
      cat)  cat ;;
      hang) printf 'something unexpected: ' >/dev/tty; read -r x </dev/tty ;;
    esac
''')


@pytest.fixture
def box():
    with Sandbox(ScriptBackend(FAKE), Fakes(seed=1)) as sandbox:
        yield sandbox


def test_security_answers_getpass_and_separates_streams(box):
    call = box.security.run("ask", responder=box.responder())
    assert call.status == 3
    assert call.stdout == f"got {len(str(box.keychain.password))} chars\n"
    assert call.stderr == "to stderr\n"
    assert [p.kind for p in call.prompts] == ["new-keychain-password"]
    assert str(box.keychain.password) not in call.tty          # typed with echo off


def test_security_feeds_stdin_and_redacts_the_record(box):
    token = box.fakes.token()
    call = box.security.run("cat", stdin=f"add -X {token}\n")
    assert call.stdout == f"add -X {token}\n"
    assert str(token) not in call.transcript() and str(token) not in repr(call)
    assert str(token) not in str(call.record())


def test_shell_reads_pipestatus_and_output(box):
    shell = box.shell()
    run = shell.run("false | true")
    assert run.statuses == [1, 0]
    run = shell.run('printf "a\\nb\\n" | grep b')
    assert (run.statuses, run.output) == ([0, 0], "b\n")
    assert shell.run("security echo hi").output == "hi\n"     # the shim is first on PATH


def test_shell_answers_prompts_and_transcript_is_redacted(box):
    shell = box.shell()
    run = shell.run("security ask", responder=box.responder())
    assert run.status == 3 and [p.kind for p in run.prompts] == ["new-keychain-password"]
    secret = box.fakes.token()
    shell.run(f"echo {secret}")
    assert str(secret) not in shell.transcript()
    assert "<redacted>" in shell.transcript()


def test_sandbox_is_hermetic(box):
    env = box.env
    assert env["HOME"] == str(box.home) and env["PATH"].split(":")[0] == str(box.bin)
    assert (env["LC_ALL"], env["TZ"]) == ("C", "UTC") and env["TMPDIR"] == str(box.tmp)
    assert box.keychain.path == box.home / "Library/Keychains/login.keychain-db"


@pytest.mark.stress
def test_timeout_names_the_screen(box):
    with pytest.raises(TimeoutError, match="no answer within"):
        box.security.run("hang", responder=Responder(), timeout=1)
