"""The simulator's public state API (issue 24): the controls find a state directory without
changing os.environ (a step may read it from another thread meanwhile), `control.locked` answers
what the rehearsal's test caller prints, and the real path (the Mac shim) needs nothing of the
simulator."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

from keychain_claims.sim import control, store


def test_state_dir_is_the_sandbox_roots_sim_state(tmp_path):
    assert control.state_dir(tmp_path) == tmp_path / "sim-state"


def test_using_state_leaves_the_environment_alone_and_is_per_thread(tmp_path, monkeypatch):
    monkeypatch.setenv("KEYCHAIN_SIM_STATE", str(tmp_path / "from-env"))
    seen = {}
    inside = threading.Event()
    done = threading.Event()

    def other_thread():
        inside.wait(5)
        seen["env"], seen["store"] = os.environ.get("KEYCHAIN_SIM_STATE"), store.state_dir()
        done.set()

    t = threading.Thread(target=other_thread)
    t.start()
    with store.using_state(tmp_path / "chosen"):
        assert store.state_dir() == str(tmp_path / "chosen")
        inside.set()
        done.wait(5)
        assert os.environ["KEYCHAIN_SIM_STATE"] == str(tmp_path / "from-env")
    t.join(5)
    assert seen == {"env": str(tmp_path / "from-env"), "store": str(tmp_path / "from-env")}
    assert store.state_dir() == str(tmp_path / "from-env")


def test_locked_follows_lock_and_unlock(sim):
    sim.make_login()
    assert control.locked(sim.state, sim.login) is False
    assert sim("lock-keychain", sim.login).status == 0
    assert control.locked(sim.state, sim.login) is True
    assert sim("unlock-keychain", "-p", "pw-1", sim.login).status == 0
    assert control.locked(sim.state, sim.login) is False


def test_the_mac_shim_imports_nothing_of_the_simulator():
    code = ("import sys, keychain_claims.backends.macos.shim; "
            "print(sorted(m for m in sys.modules if m.startswith('keychain_claims.sim')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_keychain_unlocked_in_one_session_is_locked_in_another(sim):
    """securityd keeps a keychain's unlock per (session, keychain): KeychainDbCommon::find joins a
    DbCommon only of the caller's own Session (securityd/src/kcdatabase.cpp).  Issue 28, point 3."""
    sim.make_login()
    mine, other = {"KEYCHAIN_SIM_ASID": "100017"}, {"KEYCHAIN_SIM_ASID": "100018"}
    assert sim("unlock-keychain", "-p", "pw-1", sim.login, env=mine).status == 0
    assert control.locked(sim.state, sim.login, session="100017") is False
    assert control.locked(sim.state, sim.login, session="100018") is True
    read = sim("show-keychain-info", sim.login, env={**other, "KEYCHAIN_SIM_UI": "none"})
    assert read.status == 36                  # locked there: it would need the unlock dialog
    assert sim("show-keychain-info", sim.login, env={**mine, "KEYCHAIN_SIM_UI": "none"}).status == 0
    assert sim("lock-keychain", sim.login, env=mine).status == 0
    assert control.locked(sim.state, sim.login, session="100017") is True


def test_a_reboot_locks_the_keychain_in_every_session(sim):
    sim.make_login()
    assert sim("unlock-keychain", "-p", "pw-1", sim.login, env={"KEYCHAIN_SIM_ASID": "100017"}).status == 0
    control.reboot(sim.state)
    assert control.locked(sim.state, sim.login, session="100017") is True
    assert control.locked(sim.state, sim.login) is True
