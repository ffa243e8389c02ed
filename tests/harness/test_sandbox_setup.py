"""A sandbox that cannot be prepared (no `security` to start, a set-up command that fails) says so in one
line naming what failed, never a traceback (keychain_claims/harness/sandbox.py; issue 7)."""
from __future__ import annotations


import pytest

from keychain_claims.backends import Backend, BackendError, Session, SimBackend
from keychain_claims.backends.sim import SimSession
from keychain_claims.harness.sandbox import Sandbox


class Missing(Backend):
    name = "missing"

    def unavailable(self):
        return None

    def security_command(self):
        return ["/nonexistent/security"]

    def open_session(self, sandbox):
        return MissingSession(self, sandbox)


class MissingSession(Session):
    def advance_clock(self, seconds):           # the world's actions: never reached
        raise NotImplementedError

    restart = as_caller = advance_clock


def test_missing_security_is_one_line():
    with Sandbox(Missing()) as box, pytest.raises(BackendError) as info:
        box.prepare()
    message = str(info.value)
    assert message.startswith("could not prepare the scratch keychain: the sandbox's security could not be started "
                              "(exit 127: ")
    assert "\n" not in message


class Occupied(SimBackend):
    """The scratch keychain's file is already there, so create-keychain fails (errSecDuplicateKeychain, -25296)."""

    def open_session(self, sandbox):
        return OccupiedSession(self, sandbox)


class OccupiedSession(SimSession):
    def scratch_keychain_commands(self):
        self.sandbox.keychain.path.write_text("")
        return super().scratch_keychain_commands()


def test_a_failed_setup_command_is_named_in_one_line():
    with Sandbox(Occupied()) as box, pytest.raises(BackendError) as info:
        box.prepare()
    message = str(info.value)
    assert message == ("could not prepare the scratch keychain: security create-keychain returned -25296: "
                       f"security: SecKeychainCreate {box.keychain.path}: "
                       "A keychain with the same name already exists.")
