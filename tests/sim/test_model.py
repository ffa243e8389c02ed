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

from hypothesis import HealthCheck, given, settings, strategies as st

from .conftest import SIM, Sim

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
    stored = json.loads(open(sim.login).read())["items"]
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
    return subprocess.Popen([sys.executable, "-c", WRITER, SIM[0], prefix, str(count)], env=sim.env,
                            stdout=subprocess.PIPE, text=True, start_new_session=True)


def _stored(sim: Sim) -> set[str]:
    data = json.loads(open(sim.login).read())                   # must always parse: no torn store
    return {i["attrs"]["acct"] for i in data["items"]}


def test_two_concurrent_writers_lose_nothing(login):
    a, b = _writer(login, "a", 25), _writer(login, "b", 25)
    acked = set(a.communicate(timeout=120)[0].split()) | set(b.communicate(timeout=120)[0].split())
    assert len(acked) == 50 and _stored(login) == acked


def test_kill_at_any_point_leaves_no_torn_store(login):
    rng = random.Random(1234)
    acked: set[str] = set()
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
