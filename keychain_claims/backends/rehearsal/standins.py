"""The rehearsal's stand-ins for what only a Mac has: `cc`, `codesign`, `openssl` (LibreSSL), the
`security` that makes the signing keychain, `launchctl` and `sudo` (what opens a sandbox's session),
the compiled test caller (testcaller.c), and -- behind them -- securityd/SecurityAgent, which
keychain-sim plays (`sim-security`).  The macOS backend's own code (callers.py, session.py, shim.py,
backend.py) runs unchanged against them; only these leaves differ.  The Mac user they stand for is
the hosted runner's `runner` (uid 501, never root: model_uid), whatever this host runs as.  Each
behaviour is the documented one:

* cc: compiles testcaller.c for real -- the host's C compiler, -fsyntax-only, with the errors Apple
  clang makes by default (Xcode 12 on: implicit declarations) -- against headers generated from the
  SDK's public declarations (sdk_declarations.json, each with the Apple header it is copied from);
  what it builds is a program whose modes are the source's.
* codesign(1): `-s -` signs ad hoc, `-s NAME` needs NAME's key usable by codesign without a dialog:
  its partition list must hold `apple:` (`security set-key-partition-list`; without it codesign's
  use of the key asks in a dialog -- the well-known CI hang -- which a session without a GUI fails
  with errSecInternalComponent), and its keychain unlocked in the caller's session (a keychain idle
  past its lock timeout, 300 s by default, asks for its password: the same failure).  `-d -vvv`
  prints Identifier=, CDHash=, TeamIdentifier=; `-d -v` prints no CDHash= (issue 21's reading of
  codesign's verbosity levels).
  Stand-in liberty: TeamIdentifier= is the team the app stands for (as for an Apple-issued identity),
  so the partition ID agrees with the simulator's model of a Developer ID app.
* openssl: LibreSSL (macOS 14/15's /usr/bin/openssl, 3.3.x) has no `pkcs12 -legacy` and refuses it;
  its default PBE is 3DES, which `security import` reads.
* sessions: an audit session is KEYCHAIN_SIM_ASID (securityd keeps a keychain's unlock per session)
  and KEYCHAIN_SIM_UI (none: no window-server access).  launchctl bootstraps a job with
  `SessionCreate` into a new one (launchd is root; the job's user needs nothing); testcaller `nogui`
  (SessionCreate) is refused with EPERM for anyone but root (xnu setaudit_addr: suser()), exit 161;
  sudo asks for a password (a developer's Mac).  testcaller `session` prints SessionGetInfo's id and
  attributes.
* testcaller reads with SecKeychainSetUserInteractionAllowed(false): KEYCHAIN_SIM_INTERACTION=0.

`--rehearsal-faults` (env KEYCHAIN_CLAIMS_FAULTS, comma-separated) makes the leaves misbehave as the
review of issue 21 found a Mac might:
  dialog    the session trick does not take for typed command lines: a dialog nobody can dismiss
  throttle  a consent answer within 10 s of the previous one waits for launchd's respawn throttle
  exit51    a test caller with interaction disabled gets errSecAuthFailed (51), not 36
  cdhash    `codesign -d -vvv` prints no CDHash=
  slow      `show-keychain-info` takes longer than any deadline, with no dialog at all (but for a
            sandbox's first, its safety check: _not_first)
Each time a fault fires, the stand-in says so in the sandbox's simulator state (FIRED_FILE: the
fault and where), which the rehearsal reads per scenario (RehearsalBackend.faults_fired) for the
faults run's accounting (plugins/publish.py: fault_alarm).  COPED are the faults the macOS code
copes with as a Mac user needs (exit 51 is consent; launchd's throttle is waited out within the
call's deadline; a missing CDHash= of ad hoc code is read from its designated requirement); a
scenario reached by any other ends not checkable, its reason naming the fault.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

FAULTS_ENV = "KEYCHAIN_CLAIMS_FAULTS"
FAULTS = ("dialog", "throttle", "exit51", "cdhash", "slow")
COPED = ("throttle", "exit51", "cdhash")
THROTTLE_INTERVAL = 10.0      # launchd.plist(5) ThrottleInterval default: a respawn at most every 10 s
FIRED_FILE = "faults-fired.jsonl"


def faults() -> set[str]:
    return {f for f in os.environ.get(FAULTS_ENV, "").split(",") if f}


def fired(fault: str, where: str) -> None:
    """Record that `fault` fired here (in the sandbox's simulator state, KEYCHAIN_SIM_STATE)."""
    state = os.environ.get("KEYCHAIN_SIM_STATE")
    if not state:
        return
    with open(Path(state) / FIRED_FILE, "a") as fh:
        fh.write(json.dumps({"fault": fault, "where": where}) + "\n")


def _sim() -> list[str]:
    from keychain_claims import sim
    return sim.command()


def _program(*fixed: str) -> str:
    """A program that runs this module (as backends.base.python_shim, which imports pytest)."""
    import shlex
    root = str(Path(__file__).resolve().parents[3])
    code = (f"import sys; sys.path.insert(0, {root!r}); from keychain_claims.backends.rehearsal.standins import main; "
            "sys.exit(main())")
    return f'#!/bin/sh\nexec {shlex.join([sys.executable, "-I", "-S", "-c", code, *fixed])} "$@"\n'


def _record(path: str) -> Path:
    return Path(path + ".sig.json")


def _fail(text: str, status: int = 1) -> int:
    print(text, file=sys.stderr)
    return status


# --------------------------------------------------------------------------- cc
SDK_DECLARATIONS = Path(__file__).with_name("sdk_declarations.json")
# what Apple clang (Xcode 12 on) makes an error by default; the host's cc is told the same
CLANG_ERRORS = ["-Werror=implicit-function-declaration", "-Werror=implicit-int", "-Werror=int-conversion",
                "-Werror=incompatible-pointer-types"]


def sdk_headers(folder: Path) -> Path:
    """The SDK's public headers as the declared-symbol list has them (sdk_declarations.json):
    <folder>/Security/*.h and CoreFoundation/CoreFoundation.h.  Returns `folder`."""
    doc = json.loads(SDK_DECLARATIONS.read_text())
    written: list[str] = []
    for entry in doc["headers"]:
        path = folder / entry["header"]
        path.parent.mkdir(parents=True, exist_ok=True)
        guard = "KC_SDK_" + "".join(c if c.isalnum() else "_" for c in entry["header"]).upper()
        includes = "".join(f"#include <{h}>\n" for h in written)
        path.write_text(f"/* from {entry['source']} */\n#ifndef {guard}\n#define {guard}\n{includes}"
                        + "\n".join(entry["declarations"]) + "\n#endif\n")
        written.append(entry["header"])
    for umbrella, members in doc["umbrella"].items():
        (folder / umbrella).write_text("".join(f"#include <{h}>\n" for h in members))
    return folder


def _host_cc() -> str | None:
    import shutil
    return next((found for name in ("cc", "clang", "gcc") if (found := shutil.which(name))), None)


def cc(argv: list[str]) -> int:
    """Apple's cc for testcaller.c: the source is compiled for real (syntax and declarations) by
    the host's C compiler against the SDK's public headers as sdk_declarations.json lists them,
    with the errors Apple clang makes by default; what it builds is the stand-in program."""
    import subprocess
    out = build = None
    sources, defines = [], []
    words = iter(argv)
    for word in words:
        if word == "-o":
            out = next(words)
        elif word.startswith("-D"):
            defines.append(word)
            if word.startswith("-DKC_BUILD="):
                build = word.split("=", 1)[1].strip('"')
        elif word.endswith(".c"):
            sources.append(word)
        elif word == "-framework":
            next(words)
    if not out or len(sources) != 1:
        return _fail("cc: error: no output file or no single source")
    host = _host_cc()
    if host is None:
        return _fail("cc (stand-in): no C compiler on this host to check the source with; install one (cc, "
                     "clang or gcc)")
    sdk = sdk_headers(Path(out + ".sdk"))
    proc = subprocess.run([host, "-fsyntax-only", "-std=gnu11", "-D_GNU_SOURCE", "-D__APPLE__", *CLANG_ERRORS,
                           "-I", str(sdk), *defines, sources[0]], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        return 1
    Path(out).write_text(_program("testcaller", out, build or "1"))
    Path(out).chmod(0o755)
    _record(out).unlink(missing_ok=True)          # a new build is unsigned until codesign runs
    return 0


# --------------------------------------------------------------------------- codesign
def codesign(argv: list[str]) -> int:
    if argv[:1] == ["-d"] and "-r-" in argv:
        # the designated requirement (codesign(1) `-r-`), implicit ("# designated") for code signed
        # without one: for ad hoc code its CDHash (`cdhash H"…"`), else its identifier and leaf
        # certificate (Code Signing Requirement Language)
        path = argv[-1]
        if not _record(path).exists():
            return _fail(f"{path}: code object is not signed at all")
        sig = json.loads(_record(path).read_text())
        print(f"Executable={path}", file=sys.stderr)
        leaf = __import__("hashlib").sha1(sig["authority"].encode()).hexdigest()
        print(f'# designated => cdhash H"{sig["cdhash"]}"' if sig["adhoc"]
              else f'# designated => identifier "{sig["identifier"]}" and certificate leaf = H"{leaf}"')
        return 0
    if argv[:1] == ["-d"] or argv[:2] in (["-d", "-v"], ["-d", "-vvv"]) or (argv and argv[0].startswith("-d")):
        verbose = sum(a.count("v") for a in argv if a.startswith("-") and set(a[1:]) <= {"d", "v"})
        path = argv[-1]
        if not _record(path).exists():
            return _fail(f"{path}: code object is not signed at all")
        sig = json.loads(_record(path).read_text())
        lines = [f"Executable={path}", f"Identifier={sig['identifier']}", "Format=Mach-O thin (arm64)",
                 f"CodeDirectory v=20500 size=500 flags=0x{'2' if sig['adhoc'] else '0'}(adhoc) hashes=10+2 location=embedded"]
        if verbose >= 3 and "cdhash" not in faults():
            lines += [f"CDHash={sig['cdhash']}"]
        elif verbose >= 3:
            fired("cdhash", "codesign -d -vvv")
        lines += ["Signature=adhoc" if sig["adhoc"] else f"Authority={sig['authority']}",
                  f"TeamIdentifier={sig['team'] or 'not set'}"]
        print("\n".join(lines), file=sys.stderr)
        return 0
    ident = name = keychain = None
    words = iter(argv)
    for word in words:
        if word == "-s":
            name = next(words)
        elif word == "-i":
            ident = next(words)
        elif word == "--keychain":
            keychain = next(words)
    path = argv[-1]
    if name is None or not Path(path).exists():
        return _fail("codesign: usage: codesign -s identity [-i identifier] path")
    who = json.loads(os.environ.get("KC_IDENTITY") or "{}")
    team = ""
    if name != "-":
        found = _signing_identity(name, keychain)
        if found is None:
            return _fail(f"{name}: no identity found")
        if "apple:" not in found.get("partitions", []):
            # codesign would ask for the key in a dialog; in a session without a GUI that fails at once
            return _fail(f"{path}: errSecInternalComponent")
        data = _signing_keychain(keychain) if keychain else {}
        if data and not _unlocked(data):
            # a locked keychain: codesign would ask for its password in a dialog (the same failure)
            return _fail(f"{path}: errSecInternalComponent")
        if data and keychain:
            data["used"][_asid()] = _now()          # a use restarts the idle timer
            Path(keychain).write_text(json.dumps(data))
        team = who.get("team", "")
    sig = {"identifier": ident or who.get("identifier", Path(path).name), "adhoc": name == "-", "authority": name,
           "team": team, "cdhash": who.get("cdhash") or __import__("hashlib").sha1(Path(path).read_bytes()).hexdigest(),
           "identity": who}
    _record(path).write_text(json.dumps(sig))
    return 0


def _signing_identity(name: str, keychain: str | None) -> dict | None:
    for path in ([keychain] if keychain else []):
        data = _signing_keychain(path)
        for ident in data.get("identities", []):
            if ident["name"] == name:
                return ident
    team = os.environ.get("KEYCHAIN_CLAIMS_TEAM_IDENTITY")
    if team and name == team:          # the rehearsal's stand-in for an Apple-issued identity
        return {"name": name, "partitions": ["apple-tool:", "apple:", "codesign:"]}
    return None


# --------------------------------------------------------------------------- openssl (LibreSSL)
def openssl(argv: list[str]) -> int:
    if argv[:1] == ["req"]:
        out = argv[argv.index("-out") + 1]
        key = argv[argv.index("-keyout") + 1]
        subject = argv[argv.index("-subj") + 1]
        Path(key).write_text("-----BEGIN PRIVATE KEY-----\nstand-in\n-----END PRIVATE KEY-----\n")
        Path(out).write_text(json.dumps({"subject": subject}))
        return 0
    if argv[:1] == ["pkcs12"]:
        if "-legacy" in argv:
            return _fail("pkcs12: Unrecognized flag legacy\npkcs12: Use -help for summary.")
        cert = json.loads(Path(argv[argv.index("-in") + 1]).read_text())
        Path(argv[argv.index("-out") + 1]).write_text(json.dumps({"p12": cert["subject"]}))
        return 0
    return _fail(f"openssl: {argv[:1]}: not in the stand-in")


# --------------------------------------------------------------------------- security (signing keychain)
def _signing_keychain(path: str) -> dict:
    p = Path(path)
    return json.loads(p.read_text()) if p.exists() and p.read_text().startswith("{") else {}


DEFAULT_LOCK_TIMEOUT = 300     # a new keychain locks after 5 idle minutes (security create-keychain; the
                               # `set-keychain-settings` defaults: SecurityTool/macOS/keychain_set.c)


def _now() -> float:
    """The rehearsal's clock: the simulator's (a test may move it), else real time."""
    from keychain_claims.sim import control
    return control.now(Path(os.environ.get("KEYCHAIN_SIM_STATE", ".")))


def _asid() -> str:
    return os.environ.get("KEYCHAIN_SIM_ASID") or LOGIN_ASID


def _unlocked(data: dict) -> bool:
    """Whether the signing keychain is unlocked in this session now (unlock per session and
    keychain, as securityd keeps it; locked once idle for its timeout)."""
    since = data.get("used", {}).get(_asid())
    timeout = data.get("timeout")
    return since is not None and (timeout is None or _now() - since < timeout)


def security(argv: list[str]) -> int:
    """The signing keychain's commands (what callers._throwaway_identity runs)."""
    if argv[:1] in (["create-keychain"], ["unlock-keychain"], ["import"], ["set-key-partition-list"],
                    ["set-keychain-settings"]):
        path = argv[-1] if argv[0] != "import" else argv[argv.index("-k") + 1]
        data = _signing_keychain(path)
        if argv[0] == "create-keychain":      # made unlocked, with the default settings
            Path(path).write_text(json.dumps({"password": argv[argv.index("-p") + 1], "identities": [],
                                              "timeout": DEFAULT_LOCK_TIMEOUT, "used": {_asid(): _now()}}))
            return 0
        if not data:
            return _fail("security: SecKeychainOpen: The specified keychain could not be found.", 50)
        if argv[0] == "unlock-keychain":
            if argv[argv.index("-p") + 1] != data["password"]:
                return _fail("security: SecKeychainUnlock: The user name or passphrase you entered is not correct.", 51)
            data.setdefault("used", {})[_asid()] = _now()
        elif argv[0] == "set-keychain-settings":  # -t SECONDS; without -t: no timeout (security(1))
            if not _unlocked(data):
                return _fail("security: SecKeychainSetSettings: User interaction is not allowed.", 36)
            data["timeout"] = int(argv[argv.index("-t") + 1]) if "-t" in argv else None
        elif argv[0] == "import":
            p12 = json.loads(Path(argv[1]).read_text())
            name = p12["p12"].split("/CN=")[1].split("/")[0]
            # after import the key's partition list holds only what import sets: not apple:
            data["identities"].append({"name": name, "partitions": ["apple-tool:"]})
        else:
            if argv[argv.index("-k") + 1] != data["password"]:
                return _fail("security: SecKeychainItemSetAccessWithPassword: The user name or passphrase you "
                             "entered is not correct.", 51)
            wanted = argv[argv.index("-S") + 1].split(",")
            for ident in data["identities"]:
                ident["partitions"] = wanted
        Path(path).write_text(json.dumps(data))
        return 0
    return _fail(f"security (stand-in for the signing keychain): {argv[:1]} is not one of its commands")


# --------------------------------------------------------------------------- /usr/bin/security
def sim_security(argv: list[str]) -> int:
    """The /usr/bin/security the shim calls: keychain-sim, with securityd and SecurityAgent in it.
    Faults: `dialog` (for a typed command line the session's lack of window-server access does not
    take: a dialog nobody can dismiss), `slow` (show-keychain-info outlasts every deadline, no dialog
    at all) and `throttle` (a consent answered within 10 s of the previous one waits for launchd's
    respawn throttle)."""
    import signal
    import subprocess
    typed_dialog = "dialog" in faults() and os.environ.get("KEYCHAIN_CLAIMS_WATCHED") == "typed"
    if typed_dialog:
        os.environ["KEYCHAIN_SIM_UI"] = _login_session_kind()     # the session's no-GUI does not take
    state = Path(os.environ.get("KEYCHAIN_SIM_STATE", "."))
    if "slow" in faults() and "show-keychain-info" in argv and _not_first(state, "show-keychain-info"):
        fired("slow", "show-keychain-info")
        time.sleep(float(os.environ.get("KEYCHAIN_CLAIMS_CALL_LIMIT") or 20) + 5)
    if "throttle" not in faults() and not typed_dialog:      # the simulator in this process: as exec'd, one start less
        from keychain_claims.sim.cli import main as simulator
        return simulator(argv)
    proc = subprocess.Popen([*_sim(), *argv])

    def end(*_) -> None:
        proc.kill()
        os._exit(1)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, end)
    if typed_dialog:              # the fault reached this call only if a dialog is drawn for it
        from keychain_claims.sim import control
        while proc.poll() is None:
            if any(w.get("pid") == proc.pid for w in control.windows(state)):
                fired("dialog", f"typed {' '.join(argv[:1])}: a dialog drawn in the login session")
                break
            time.sleep(0.1)
    status = proc.wait()
    if status == 36 and "throttle" in faults():
        stamp = state / "agent-respawn"
        last = float(stamp.read_text()) if stamp.exists() else 0.0
        wait = last + THROTTLE_INTERVAL - time.time()
        if wait > 0:
            fired("throttle", f"{' '.join(argv[:1])} waited {wait:.1f} s")
            time.sleep(wait)
        stamp.write_text(str(time.time()))
    return status


def _not_first(state: Path, command: str) -> bool:
    """Whether `command` ran in this sandbox before.  Stand-in liberty: `slow` spares a sandbox's first
    show-keychain-info, the safety check that proves the shim pinned (backend.prepare_keychain):
    slowed, it fails every sandbox alike before any scenario step, and a faults run then shows no
    other fault; tests/backends/test_rehearsal_faults.py checks that case on its own."""
    mark = state / f"ran-{command}"
    if mark.exists():
        return True
    mark.touch()
    return False


# --------------------------------------------------------------------------- sessions: launchctl, sudo
MODEL_UID_ENV = "KEYCHAIN_CLAIMS_MODEL_UID"     # the uid the rehearsal's Mac user has (the runner: 501)
RUNNER_UID = 501
LOGIN_ASID = "100000"                           # the login session's audit session ID, as SessionGetInfo says it
SESSION_VARS = ("KEYCHAIN_SIM_ASID", "KEYCHAIN_SIM_UI")   # what an audit session is, in the simulator


def model_uid() -> int:
    """The uid of the user the rehearsal stands in for: the hosted runner's `runner`, never root --
    whatever uid this host runs the rehearsal as."""
    try:
        return int(os.environ.get(MODEL_UID_ENV, RUNNER_UID))
    except ValueError:
        return RUNNER_UID


def _login_session_kind() -> str:
    try:
        return (Path(os.environ.get("KEYCHAIN_SIM_STATE", ".")) / "session").read_text().strip() or "none"
    except OSError:
        return "none"


def new_session() -> dict[str, str]:
    """A new audit session without window-server access (SessionCreate's, launchd's SessionCreate
    key): a fresh ID, in which no keychain is unlocked yet, and no GUI (KEYCHAIN_SIM_UI=none).  The
    broker keeps these for its children (session.KEEP_ENV), as children inherit an audit session."""
    import secrets
    from keychain_claims.backends.macos.session import KEEP_ENV
    env = {"KEYCHAIN_SIM_ASID": str(100001 + secrets.randbelow(899999)), "KEYCHAIN_SIM_UI": "none"}
    return {**env, KEEP_ENV: ",".join(env)}


def _jobs() -> Path:
    path = Path(os.environ.get("KEYCHAIN_SIM_STATE", ".")) / "launchd-jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def launchctl(argv: list[str]) -> int:
    """`launchctl bootstrap gui/UID PLIST` starts the job (SessionCreate: in a new session, as
    launchd.plist(5) says; launchd is PID 1, root, so the job's user needs none); `launchctl bootout
    gui/UID/LABEL` stops it.  A job gets launchd's environment, not the caller's: only its
    EnvironmentVariables (and HOME, USER)."""
    import plistlib
    import signal
    import subprocess
    if argv[:1] == ["bootstrap"] and len(argv) == 3:
        job = plistlib.loads(Path(argv[2]).read_bytes())
        env = {"HOME": os.environ.get("HOME", "/"), **job.get("EnvironmentVariables", {})}
        if job.get("SessionCreate"):
            env.update(new_session())
        else:                                        # the GUI domain's own session: the login session's
            env.update({k: os.environ[k] for k in SESSION_VARS if k in os.environ})
        with open(job.get("StandardErrorPath", os.devnull), "ab") as log:
            proc = subprocess.Popen(job["ProgramArguments"], cwd=job.get("WorkingDirectory"), env=env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        (_jobs() / job["Label"]).write_text(str(proc.pid))
        return 0
    if argv[:1] == ["bootout"] and len(argv) == 2:
        record = _jobs() / argv[1].split("/", 2)[-1]
        if not record.exists():
            return _fail("Boot-out failed: 3: No such process", 3)
        try:
            os.killpg(int(record.read_text()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
        record.unlink(missing_ok=True)
        return 0
    return _fail("launchctl (stand-in): only bootstrap gui/UID PLIST and bootout gui/UID/LABEL")


def sudo(argv: list[str]) -> int:
    """The rehearsal's user has no passwordless sudo (a developer's Mac): `sudo -n` refuses."""
    return _fail("sudo: a password is required", 1)


# --------------------------------------------------------------------------- the compiled test caller
def testcaller(program: str, build: str, argv: list[str]) -> int:
    import subprocess
    if not argv:
        return _fail("usage: testcaller find-generic-password|add-generic-password|grant|revoke|status|nogui ...", 2)
    mode, rest = argv[0], argv[1:]
    if mode == "session":              # SessionGetInfo(callerSecuritySession): the session this runs in
        ui = os.environ.get("KEYCHAIN_SIM_UI") or _login_session_kind()
        attrs = 0x0020 if ui == "none" else 0x0030       # sessionHasTTY, and sessionHasGraphicAccess with a GUI
        print(f"id={os.environ.get('KEYCHAIN_SIM_ASID') or LOGIN_ASID} attrs=0x{attrs:x}")
        return 0
    if mode == "nogui":
        rest = rest[1:] if rest[:1] == ["--"] else rest
        if model_uid() != 0:
            # SessionCreate -> setaudit_addr(AU_ASSIGN_ASID): suser() first (xnu audit_syscalls.c): EPERM,
            # OSStatus errSecErrnoBase + EPERM = 100001, low byte 161
            return _fail("testcaller: SessionCreate: Operation not permitted", 100001 & 0xff)
        os.execve(rest[0], rest, {**os.environ, **new_session()})
    sig = json.loads(_record(program).read_text()) if _record(program).exists() else None
    if sig is None:
        return _fail(f"{program}: killed: code signature invalid (arm64 runs signed code only)", 137)
    who = dict(sig["identity"])
    env = {**os.environ, "KEYCHAIN_SIM_CALLER": json.dumps(who, sort_keys=True), "KEYCHAIN_SIM_INTERACTION": "0"}
    state = Path(os.environ.get("KEYCHAIN_SIM_STATE", "."))
    if mode == "status":
        from keychain_claims.sim import control
        print("locked" if control.locked(state, rest[-1]) else "unlocked")
        return 0
    if mode in ("grant", "revoke"):
        return _access(mode, rest, state)
    if mode == "find-generic-password":
        proc = subprocess.run([*_sim(), mode, *rest], env=env, capture_output=True, text=True)
        sys.stdout.write(proc.stdout)
        if proc.returncode == 36 and "exit51" in faults():
            fired("exit51", "testcaller find-generic-password")
            return _fail("testcaller: SecKeychainItemCopyContent: The user name or passphrase you entered is not "
                         "correct.", 51)
        sys.stderr.write(proc.stderr.replace("security:", "testcaller:"))
        return proc.returncode
    if mode == "add-generic-password":
        secret = sys.stdin.readline().rstrip("\n")
        words, hexed, out = iter(rest), False, []
        for word in words:
            if word == "-x":
                hexed = True
            elif word != "-p":
                out.append(word)
        from keychain_claims.security.lines import join_line
        line = join_line([mode, *out[:-1], "-X" if hexed else "-w", secret, out[-1]]) + "\n"
        proc = subprocess.run([*_sim(), "-i"], env=env, input=line, capture_output=True, text=True)
        sys.stderr.write(proc.stderr.replace("security:", "testcaller:"))
        return proc.returncode
    return _fail(f"testcaller: {mode} is not a read (keychain-claims test caller build {build})", 1)


def _access(mode: str, argv: list[str], state: Path) -> int:
    """grant/revoke -a acct -s svce -t PATH KEYCHAIN, the keychain password on stdin: Always Allow's
    effect for the program at PATH (its signature record; /usr/bin/security is the security tool).
    Stand-in liberty: revoke restores the access saved by the matching grant."""
    import copy
    from keychain_claims.sim import acl, control
    opts = dict(zip(argv[:-1:2], argv[1:-1:2]))
    keychain, path = argv[-1], opts["-t"]
    password = sys.stdin.readline().rstrip("\n")
    if path == acl.SECURITY["path"]:
        who = acl.SECURITY
    elif _record(path).exists():
        who = json.loads(_record(path).read_text())["identity"]
    else:
        return _fail(f"testcaller: SecTrustedApplicationCreateFromPath: {path}: not found", 1)
    import hashlib
    saved = state / f"access-{hashlib.sha1(repr((opts['-s'], opts.get('-a'), path)).encode()).hexdigest()}.json"
    try:
        with control.changing(keychain, password, state) as data:
            item = next(i for i in data["items"] if i["attrs"].get("svce") == opts["-s"]
                        and (not opts.get("-a") or i["attrs"].get("acct") == opts["-a"]))
            if mode == "grant":
                saved.write_text(json.dumps({k: item.get(k) for k in ("acl", "partition")}))
                acl.always_allow(item, who, data["version"])
            elif saved.exists():
                item.update(copy.deepcopy(json.loads(saved.read_text())))
    except StopIteration:
        return _fail("testcaller: SecKeychainSearchCopyNext: The specified item could not be found in the keychain.", 44)
    except Exception as exc:       # noqa: BLE001 - a wrong password, a locked keychain: one line, as the tool
        return _fail(f"testcaller: SecKeychainItemSetAccessWithPassword: {exc}", 51)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    tool, rest = args[0], args[1:]
    if tool == "testcaller":
        return testcaller(rest[0], rest[1], rest[2:])
    return {"cc": cc, "codesign": codesign, "openssl": openssl, "security": security, "launchctl": launchctl,
            "sim-security": sim_security,
            "sudo": sudo}[tool](rest)


if __name__ == "__main__":
    sys.exit(main())
