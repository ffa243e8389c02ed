"""Issue 28: the Mac path starts on a real Mac -- a test caller that compiles from public headers,
one session a sandbox keeps (SessionCreate needs root; securityd keeps a keychain's unlock per
session), probes asked in that session, and settling that cannot go green with nothing settled.
Each test names the point it covers and failed on the code before the change."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from keychain_claims import PROJECT_ROOT
from keychain_claims.backends import RehearsalBackend
from keychain_claims.backends.base import BackendError
from keychain_claims.backends.macos import callers, session
from keychain_claims.backends.rehearsal import standins
from keychain_claims.fakes import Fakes
from keychain_claims.harness.sandbox import Sandbox
from keychain_claims.sim import control

needs_cc = pytest.mark.skipif(standins._host_cc() is None, reason="no host C compiler for the stand-in cc")


@pytest.fixture
def box():
    sandbox = Sandbox(RehearsalBackend(), Fakes())
    try:
        sandbox.prepare()
        yield sandbox
    finally:
        sandbox.close()


def _helper_says(box, *argv: str) -> subprocess.CompletedProcess:
    """The helper run as the backend runs it: in the sandbox's session."""
    return callers._run(box.session, [str(callers.helper(box.session)), *argv])


# --------------------------------------------------------------------------- 1. public headers only
@needs_cc
def test_a_call_no_public_header_declares_fails_the_build_as_apple_clang_fails_it(tmp_path, capsys):
    """Point 1: testcaller.c called SecKeychainItemSetAccessWithPassword, declared only in the
    private SecKeychainItemPriv.h.  The stand-in cc compiles against the SDK's declared-symbol list
    and fails the call as clang does (it used to check that strings were in the source)."""
    source = tmp_path / "caller.c"
    source.write_text("#include <Security/Security.h>\n#include <Security/AuthSession.h>\n"
                      "int main(void) { SecKeychainSetUserInteractionAllowed(false);\n"
                      "  return (int)SecKeychainItemSetAccessWithPassword(0, 0, 0, 0); }\n")
    assert standins.cc(["-o", str(tmp_path / "caller"), str(source), "-framework", "Security"]) != 0
    said = capsys.readouterr().err
    assert "implicit declaration of function" in said and "SecKeychainItemSetAccessWithPassword" in said
    assert not (tmp_path / "caller").exists()


@needs_cc
def test_the_test_caller_builds_from_the_sdks_public_declarations(tmp_path, capsys):
    out = tmp_path / "testcaller"
    assert standins.cc(["-o", str(out), '-DKC_BUILD="1"', str(callers.SOURCE), "-framework", "Security",
                        "-framework", "CoreFoundation"]) == 0, capsys.readouterr().err
    assert out.exists()


@needs_cc
@pytest.mark.mac_session
def test_a_build_error_is_shown_whole(box, tmp_path, monkeypatch):
    """Point 1: callers.build kept the first 200 characters of cc's stderr, which were warnings;
    the error after them was never shown."""
    source = tmp_path / "caller.c"
    noise = "".join(f"#warning this is warning number {i} of a long preamble\n" for i in range(8))
    source.write_text(noise + "#include <Security/Security.h>\nint main(void) { return UndeclaredCall(); }\n")
    monkeypatch.setattr(callers, "SOURCE", source)
    from keychain_claims.security.callers import app
    with pytest.raises(BackendError) as caught:
        callers.build(box.session, app("Broken", "adhoc"))
    assert "UndeclaredCall" in str(caught.value) and "warning number 7" in str(caught.value)


# --------------------------------------------------------------------------- 2. SessionCreate needs root
@pytest.mark.mac_session
def test_session_create_is_refused_for_the_runner_and_exits_161(box):
    """Point 2: SessionCreate -> setaudit_addr(AU_ASSIGN_ASID), suser() first (xnu
    audit_syscalls.c): as `runner` it fails with EPERM, OSStatus 100001, exit 161.  The stand-in
    used to grant it to anyone."""
    proc = _helper_says(box, "nogui", "--", "/bin/true")
    assert proc.returncode == 100001 & 0xff == 161
    assert "SessionCreate: Operation not permitted" in proc.stderr


@pytest.mark.mac_session
def test_a_sandbox_is_prepared_without_root_in_one_session_of_its_own(box):
    """Point 2 and 3: the sandbox's calls all run in one session, not the harness's, made without
    root (launchd's SessionCreate); the helper says which session it runs in."""
    first, second = _helper_says(box, "session"), _helper_says(box, "session")
    assert first.returncode == 0 and first.stdout == second.stdout
    ours = subprocess.run([str(callers.helper(box.session)), "session"], capture_output=True, text=True,
                          env={**os.environ, **box.session.tool_env()})
    assert ours.stdout != first.stdout                              # not the harness's own session
    assert int(first.stdout.split("attrs=0x")[1], 16) & session.GRAPHIC_ACCESS == 0   # no window server
    assert box.session.launcher.how == "launchd"


# --------------------------------------------------------------------------- 3. the unlock is kept
@pytest.mark.mac_session
def test_the_scratch_keychain_stays_unlocked_across_the_sandboxs_calls(box):
    """Point 3: securityd keeps the unlock per (session, keychain); one session per call found the
    keychain locked at every call, and every read and write needed consent (36)."""
    box.session.set_gui(gui=False)
    kc = str(box.keychain.path)
    assert box.security.run("add-generic-password", "-a", "a", "-s", "s", "-w", "KCCANARY-1", kc).status == 0
    read = box.security.run("find-generic-password", "-a", "a", "-s", "s", "-w", kc)
    assert read.status == 0 and "KCCANARY-1" in read.stdout
    info = box.security.run("show-keychain-info", kc)
    assert info.status == 0


# --------------------------------------------------------------------------- 4. probes in the same session
@pytest.mark.mac_session
def test_keychain_locked_asks_the_sandboxs_session(box):
    """Point 4: `status` ran in the harness's session, where the scratch keychain was never
    unlocked, and called every dialog an unlock dialog."""
    kc = str(box.keychain.path)
    state = box.session.state_dir
    assert control.locked(state, kc) is True                 # the harness's own (login) session
    assert box.session.keychain_locked() is False         # the sandbox's
    assert box.security.run("lock-keychain", kc).status == 0
    assert box.session.keychain_locked() is True
    assert box.security.run("unlock-keychain", kc, responder=box.responder()).status == 0
    assert box.session.keychain_locked() is False


@pytest.mark.mac_session
def test_always_allow_is_applied_in_the_sandboxs_session(box):
    """Point 4: grant ran outside the session, where the keychain is locked: SetAccessWithPassword
    still works there, but the ACL read before it needs the keychain unlocked too."""
    from keychain_claims.security.callers import app
    kc = str(box.keychain.path)
    assert box.security.run("add-generic-password", "-a", "a", "-s", "s", "-w", "KCCANARY-2", "-T", "", kc).status == 0
    reader = app("Reader", "adhoc")
    env = box.session.as_caller(reader)
    box.session.set_gui(gui=False)
    assert box.security.run("find-generic-password", "-a", "a", "-s", "s", "-w", kc, env=env).status == 36
    box.session.grant(reader, "a", "s", once=False)
    again = box.security.run("find-generic-password", "-a", "a", "-s", "s", "-w", kc, env=env)
    assert again.status == 0 and "KCCANARY-2" in again.stdout


# --------------------------------------------------------------------------- refusal
def test_where_no_session_can_be_made_the_backend_refuses_in_one_line(tmp_path, monkeypatch):
    """launchd refuses and sudo asks for a password: one line naming both and what to do."""
    monkeypatch.setenv(session.SESSION_ENV, "sudo")
    sandbox = Sandbox(RehearsalBackend(), Fakes())
    try:
        with pytest.raises(BackendError) as caught:
            sandbox.prepare()
    finally:
        sandbox.close()
    text = str(caught.value)
    assert "\n" not in text and "sudo: a password is required" in text and "--real-dialogs" in text


# --------------------------------------------------------------------------- the signing keychain's timeout
@pytest.mark.mac_session
def test_a_codesign_after_the_default_lock_timeout_still_signs_without_a_dialog(box):
    """Point 7: the throwaway signing keychain kept the default 300 s lock timeout; a codesign
    later than that asked for its password in a dialog (errSecInternalComponent without a GUI)."""
    from dataclasses import replace
    from keychain_claims.security.callers import app
    first = app("Signed", "developer-id", team="TEAM000001")
    callers.build(box.session, first)
    control.advance_clock(box.session.state_dir, standins.DEFAULT_LOCK_TIMEOUT + 60)
    assert callers.build(box.session, replace(first, build=2)).exists()      # the same team's identity, signed again


# --------------------------------------------------------------------------- 5. settling is honest
def test_settle_exits_non_zero_when_a_probe_could_not_run(tmp_path, monkeypatch):
    """Point 5: a probe's exception became "not settled" (or "did not hold") and `assumptions
    --settle` always exited 0."""
    from keychain_claims.measures.assumptions import settle
    from keychain_claims.measures.assumptions.probe import REGISTRY
    some = next(iter(REGISTRY))

    def broken(host):
        raise BackendError("the helper could not be built")
    monkeypatch.setattr(REGISTRY[some], "probe", broken)
    rc = settle.main(["--settle", "--backend", "sim", "--out", str(tmp_path), "--only", some])
    doc = json.loads((tmp_path / f"{some}.json").read_text())
    assert rc != 0 and doc["status"] == "could-not-run" and "could not be built" in doc["observed"]


def test_settle_exits_zero_when_every_probe_ran(tmp_path):
    from keychain_claims.measures.assumptions import settle
    rc = settle.main(["--settle", "--backend", "sim", "--out", str(tmp_path), "--only", "USAGE-H-BY-VERSION"])
    assert rc == 0


def _github_shell(flow: dict, job: dict, step: dict) -> list[str]:
    """The shell GitHub runs a step's script with on macOS/Linux: `bash -e {0}` unless a `shell`
    is named (step, job defaults, workflow defaults); `shell: bash` is `bash --noprofile --norc
    -eo pipefail {0}` (GitHub's workflow syntax, jobs.<id>.steps[*].shell)."""
    shell = step.get("shell") or job.get("defaults", {}).get("run", {}).get("shell") \
        or flow.get("defaults", {}).get("run", {}).get("shell")
    if shell is None:
        return ["bash", "-e"]
    if shell == "bash":
        return ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
    return shell.replace("{0}", "").split()


def test_the_settle_step_fails_when_settling_fails_and_the_suite_still_runs(tmp_path):
    """Point 5: `… | tee -a "$GITHUB_STEP_SUMMARY"` under bash -e without pipefail turned a failed
    settle into a green step.  The step is run as GitHub runs it, with a `keychain-claims` that
    fails."""
    flow = yaml.safe_load((PROJECT_ROOT / ".github" / "workflows" / "macos.yml").read_text())
    job = flow["jobs"]["scenarios"]
    steps = job["steps"]
    at = next(i for i, s in enumerate(steps) if "assumptions --settle" in s.get("run", ""))
    work = tmp_path / "checkout"
    (work / ".venv" / "bin").mkdir(parents=True)
    fake = work / ".venv" / "bin" / "keychain-claims"
    fake.write_text("#!/bin/sh\necho 'assumptions: 0 held, 0 did not hold, 0 not settled here, 24 could not run'\n"
                    "exit 1\n")
    fake.chmod(0o755)
    script = tmp_path / "step.sh"
    script.write_text(steps[at]["run"])
    summary = tmp_path / "summary.md"
    proc = subprocess.run([*_github_shell(flow, job, steps[at]), str(script)], cwd=work, capture_output=True,
                          text=True, env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary)})
    assert proc.returncode != 0 and "could not run" in summary.read_text()
    suite = next(s for s in steps[at + 1:] if ".venv/bin/pytest" in s.get("run", ""))
    assert "always()" in suite.get("if", "") or "!cancelled()" in suite.get("if", "")


# --------------------------------------------------------------------------- the broker
@pytest.mark.mac_session
def test_a_call_past_its_deadline_ends_with_its_whole_group_in_the_session(box):
    """The client that goes away takes the call's process group with it (no call outlives its
    deadline in the session, where nothing would ever end it)."""
    from keychain_claims.security.process import alive
    pids = box.root / "pids"
    script = box.root / "sleeper.sh"
    script.write_text(f"#!/bin/sh\necho $$ > {pids}\nsleep 60 &\necho $! >> {pids}\nwait\n")
    script.chmod(0o755)
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run(box.session.argv([str(script)]), timeout=2.0, capture_output=True)
    started = [int(p) for p in pids.read_text().split()]
    assert len(started) == 2
    import time
    deadline = time.monotonic() + 10
    while any(alive(p) for p in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in started)


@pytest.mark.mac_session
def test_the_broker_goes_when_its_sandbox_is_closed():
    sandbox = Sandbox(RehearsalBackend(), Fakes())
    sandbox.prepare()
    pid = json.loads((sandbox.session.launcher.folder / session.READY).read_text())["pid"]
    sandbox.close()
    from keychain_claims.security.process import alive
    import time
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)
