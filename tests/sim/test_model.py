"""The store is the model of a keychain, not a dictionary: random operation sequences match a
reference model and never lose an item; kills at any point leave no torn store; two writers
lose nothing."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from keychain_claims.sim import store

from .conftest import SIM_PROGRAM, Sim

ACCOUNTS = st.sampled_from(["alice", "bob"])
SERVICES = st.sampled_from(["Claude Code-credentials", "other"])
SECRETS = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=12)
OPS = st.one_of(
    st.tuples(st.just("add"), ACCOUNTS, SERVICES, SECRETS),
    st.tuples(st.just("update"), ACCOUNTS, SERVICES, SECRETS),
    st.tuples(st.just("delete"), ACCOUNTS, SERVICES),
    st.tuples(st.just("lock")),
    st.tuples(st.just("unlock")),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(OPS, max_size=14))
def test_random_sequences_match_the_reference_model(tmp_path_factory, ops):
    sim = Sim(tmp_path_factory.mktemp("model"))
    sim.env["KEYCHAIN_SIM_UI"] = "none"
    assert sim.inproc("create-keychain", "-p", "pw", "login.keychain").status == 0
    model: dict[tuple[str, str], str] = {}
    locked = False
    for op in ops:
        if op[0] == "lock":
            assert sim.inproc("lock-keychain").status == 0
            locked = True
        elif op[0] == "unlock":
            assert sim.inproc("unlock-keychain", "-p", "pw").status == 0
            locked = False
        elif op[0] in ("add", "update"):
            _, acct, svc, secret = op
            argv = ["add-generic-password", "-a", acct, "-s", svc, "-w", secret] + (["-U"] if op[0] == "update" else [])
            r = sim.inproc(*argv)
            if locked:
                assert r.status == 36                                   # no GUI: the unlock needs a dialog
            elif (acct, svc) in model and op[0] == "add":
                assert r.status == 45
            else:
                assert r.status == 0
                model[(acct, svc)] = secret
        elif op[0] == "delete":
            _, acct, svc = op
            r = sim.inproc("delete-generic-password", "-a", acct, "-s", svc)
            if (acct, svc) not in model:
                assert r.status == 44
            elif locked:
                assert r.status == 36
            else:
                assert r.status == 0
                del model[(acct, svc)]
    sim.inproc("unlock-keychain", "-p", "pw")
    for (acct, svc), secret in model.items():
        r = sim.inproc("find-generic-password", "-a", acct, "-s", svc, "-w")
        assert (r.status, r.out) == (0, secret + "\n")
    stored = store.load_keychain(sim.login)["items"]
    assert sorted((i["attrs"]["acct"], i["attrs"]["svce"]) for i in stored) == sorted(model)


WRITER = r'''
import subprocess, sys
sim, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for n in range(count):
    r = subprocess.run([sim, "add-generic-password", "-a", f"{prefix}{n}", "-s", "svc", "-w", f"secret{n}"])
    if r.returncode == 0:
        print(f"{prefix}{n}", flush=True)
'''


def _writer(sim: Sim, prefix: str, count: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, SIM_PROGRAM, prefix, str(count)], env=sim.env,
                            stdout=subprocess.PIPE, text=True, start_new_session=True)


def _stored(sim: Sim) -> set[str]:
    data = store.load_keychain(sim.login)                   # must always parse: no torn store
    return {i["attrs"]["acct"] for i in data["items"]}


@pytest.mark.stress
def test_two_concurrent_writers_lose_nothing(login):
    a, b = _writer(login, "a", 25), _writer(login, "b", 25)
    acked = set(a.communicate(timeout=120)[0].split()) | set(b.communicate(timeout=120)[0].split())
    assert len(acked) == 50 and _stored(login) == acked


@pytest.mark.stress
def test_kill_at_any_point_leaves_no_torn_store(login):
    rng = random.Random(1234)
    assert login("add-generic-password", "-a", "before", "-s", "svc", "-w", "secret").status == 0
    acked: set[str] = {"before"}        # one acknowledged item even if, under load, no writer gets one in
    for round_ in range(6):
        procs = [_writer(login, f"r{round_}w{i}-", 40) for i in range(2)]
        time.sleep(rng.uniform(0.05, 0.6))
        for proc in procs:
            os.killpg(proc.pid, signal.SIGKILL)                 # the writer and its keychain-sim child
        for proc in procs:
            out, _ = proc.communicate(timeout=30)
            acked |= set(out.split())
        stored = _stored(login)
        assert acked <= stored, f"acknowledged items lost: {sorted(acked - stored)[:5]}"
    assert login("find-generic-password", "-a", sorted(acked)[0], "-s", "svc", "-w").status == 0
    assert login("add-generic-password", "-a", "after", "-s", "svc").status == 0
    debris = [p.name for p in (login.home / "Library/Keychains").iterdir() if p.name.endswith(".tmp")]
    assert debris == []                                         # killed writers' temp files swept


WRITER_TO = r'''
import subprocess, sys
sim, prefix, count, kc = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
for n in range(count):
    r = subprocess.run([sim, "add-generic-password", "-a", f"{prefix}{n}", "-s", "svc", "-w", f"secret{n}", kc])
    if r.returncode == 0:
        print(f"{prefix}{n}", flush=True)
'''


@pytest.mark.stress
def test_writers_with_different_state_dirs_share_a_keychain_file_safely(tmp_path):
    """Two users (two securityd memories) writing one keychain in /tmp: the keychain file's own
    lock, not the per-user state lock, keeps every item."""
    one, two = Sim(tmp_path / "one"), Sim(tmp_path / "two")
    kc = str(tmp_path / "shared.keychain")
    assert one("create-keychain", "-p", "pw", kc).status == 0
    assert two("unlock-keychain", "-p", "pw", kc).status == 0
    procs = [subprocess.Popen([sys.executable, "-c", WRITER_TO, SIM_PROGRAM, f"{p}{n}-", "15", kc], env=who.env,
                              stdout=subprocess.PIPE, text=True)
             for n in range(3) for p, who in (("x", one), ("y", two))]
    acked = set()
    for proc in procs:
        acked |= set(proc.communicate(timeout=120)[0].split())
    data = store.load_keychain(kc)
    assert len(acked) == 90 and {i["attrs"]["acct"] for i in data["items"]} == acked


@pytest.mark.stress
def test_many_writers_killed_at_random_leave_every_acknowledged_update(login):
    """Updates (-U) too: after a kill the item holds one of the values written, never a torn one,
    and an acknowledged value is never older than what the store holds."""
    rng = random.Random(99)
    script = r'''
import subprocess, sys
sim, acct, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for n in range(count):
    r = subprocess.run([sim, "add-generic-password", "-U", "-a", acct, "-s", "svc", "-w", f"v{n}"])
    if r.returncode == 0:
        print(n, flush=True)
'''
    for _round in range(4):
        procs = {f"u{i}": subprocess.Popen([sys.executable, "-c", script, SIM_PROGRAM, f"u{i}", "30"], env=login.env,
                                           stdout=subprocess.PIPE, text=True, start_new_session=True)
                 for i in range(4)}
        time.sleep(rng.uniform(0.1, 0.8))
        for proc in procs.values():
            os.killpg(proc.pid, signal.SIGKILL)
        for acct, proc in procs.items():
            acked = [int(n) for n in proc.communicate(timeout=30)[0].split()]
            r = login("find-generic-password", "-a", acct, "-s", "svc", "-w")
            if not acked:
                continue
            assert r.status == 0, r.err
            value = int(r.out.strip()[1:])
            assert value >= acked[-1]                # the last acknowledged write (or a later one) is there
        store.load_keychain(login.login)


CLI_OPS = st.lists(st.one_of(
    st.tuples(st.just("add"), ACCOUNTS, SECRETS),
    st.tuples(st.just("update"), ACCOUNTS, SECRETS),
    st.tuples(st.just("delete"), ACCOUNTS),
    st.tuples(st.just("reboot")),
    st.tuples(st.just("unlock")),
), max_size=6)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=CLI_OPS)
def test_random_sequences_through_the_real_process_and_security_i(tmp_path_factory, ops):
    """The same model, through subprocesses: the writes go as Claude Code sends them (`security -i`
    with -X hex), the reboot through the control API."""
    from keychain_claims.sim import control
    sim = Sim(tmp_path_factory.mktemp("cli"))
    sim.make_login("pw")
    model, locked = {}, False
    for op in ops:
        if op[0] == "reboot":
            control.reboot(sim.state)
            locked = True
        elif op[0] == "unlock":
            assert sim("unlock-keychain", "-p", "pw").status == 0
            locked = False
        elif op[0] in ("add", "update"):
            flag = "-U " if op[0] == "update" else ""
            r = sim("-i", stdin=f'add-generic-password {flag}-a "{op[1]}" -s "svc" -X "{op[2].encode().hex()}"\n')
            expected = 36 if locked else 45 if (op[0] == "add" and op[1] in model) else 0
            assert r.status == expected, r.err
            if expected == 0:
                model[op[1]] = op[2]
        else:
            r = sim("delete-generic-password", "-a", op[1], "-s", "svc")
            assert r.status == (44 if op[1] not in model else 36 if locked else 0)
            if r.status == 0:
                del model[op[1]]
    sim("unlock-keychain", "-p", "pw")
    for acct in ("alice", "bob"):
        r = sim("find-generic-password", "-a", acct, "-s", "svc", "-w")
        assert (r.status, r.out) == ((0, model[acct] + "\n") if acct in model else (44, ""))


def test_write_replaces_atomically_and_sweeps_dead_writers_temp_files(tmp_path):
    from keychain_claims.sim import store
    target = tmp_path / "kc.keychain-db"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f".kc.keychain-db.{dead.pid}.tmp").write_text("{half")       # a writer killed mid-write
    live = tmp_path / f".kc.keychain-db.{os.getppid()}.tmp"                     # a writer still running
    live.write_text("{")
    store.write_json(str(target), {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["kc.keychain-db", live.name])
