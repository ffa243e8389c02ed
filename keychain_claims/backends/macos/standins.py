"""The rehearsal's stand-ins for what only a Mac has: `cc`, `codesign`, `openssl` (LibreSSL), the
`security` that makes the signing keychain, the compiled test caller (testcaller.c) with its `nogui`
session launcher, and -- behind them -- securityd/SecurityAgent, which keychain-sim plays.  The
macOS backend's own code (callers.py, shim.py, backend.py) runs unchanged against them; only these
leaves differ.  Each behaviour is the documented one:

* cc: compiles testcaller.c into a program whose modes are the source's (status, grant, revoke,
  find-generic-password, add-generic-password, nogui); refuses a source without them.
* codesign(1): `-s -` signs ad hoc, `-s NAME` needs NAME's key usable by codesign without a dialog:
  its partition list must hold `apple:` (`security set-key-partition-list`; without it codesign's
  use of the key asks in a dialog -- the well-known CI hang -- which a session without a GUI fails
  with errSecInternalComponent).  `-d -vvv` prints Identifier=, CDHash=, TeamIdentifier=; `-d -v`
  prints no CDHash= (issue 21's reading of codesign's verbosity levels).
  Stand-in liberty: TeamIdentifier= is the team the app stands for (as for an Apple-issued identity),
  so the partition ID agrees with the simulator's model of a Developer ID app.
* openssl: LibreSSL (macOS 14/15's /usr/bin/openssl, 3.3.x) has no `pkcs12 -legacy` and refuses it;
  its default PBE is 3DES, which `security import` reads.
* testcaller `nogui`: a session without window-server access (SessionCreate, launchd's SessionCreate
  key): the simulator runs with KEYCHAIN_SIM_UI=none, so consent fails at once with exit 36.
* testcaller reads with SecKeychainSetUserInteractionAllowed(false): KEYCHAIN_SIM_INTERACTION=0.

`--rehearsal-faults` (env KEYCHAIN_CLAIMS_FAULTS, comma-separated) makes the leaves misbehave as the
review of issue 21 found a Mac might:
  dialog    the session trick does not take for typed command lines: a dialog nobody can dismiss
  throttle  a consent answer within 10 s of the previous one waits for launchd's respawn throttle
  exit51    a test caller with interaction disabled gets errSecAuthFailed (51), not 36
  cdhash    `codesign -d -vvv` prints no CDHash=
  slow      `show-keychain-info` takes longer than any deadline, with no dialog at all
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

FAULTS_ENV = "KEYCHAIN_CLAIMS_FAULTS"
FAULTS = ("dialog", "throttle", "exit51", "cdhash", "slow")
THROTTLE_INTERVAL = 10.0      # launchd.plist(5) ThrottleInterval default: a respawn at most every 10 s


def faults() -> set[str]:
    return {f for f in os.environ.get(FAULTS_ENV, "").split(",") if f}


def _sim() -> list[str]:
    script = Path(sys.executable).with_name("keychain-sim")
    return [str(script)] if script.exists() else [sys.executable, "-m", "keychain_claims.sim"]


def _program(*fixed: str) -> str:
    """A program that runs this module (as backends.base.python_shim, which imports pytest)."""
    import shlex
    root = str(Path(__file__).resolve().parents[3])
    code = (f"import sys; sys.path.insert(0, {root!r}); from keychain_claims.backends.macos.standins import main; "
            "sys.exit(main())")
    return f'#!/bin/sh\nexec {shlex.join([sys.executable, "-I", "-S", "-c", code, *fixed])} "$@"\n'


def _record(path: str) -> Path:
    return Path(path + ".sig.json")


def _fail(text: str, status: int = 1) -> int:
    print(text, file=sys.stderr)
    return status


# --------------------------------------------------------------------------- cc
def cc(argv: list[str]) -> int:
    out = build = None
    sources = []
    words = iter(argv)
    for word in words:
        if word == "-o":
            out = next(words)
        elif word.startswith("-DKC_BUILD="):
            build = word.split("=", 1)[1].strip('"')
        elif word.endswith(".c"):
            sources.append(word)
        elif word == "-framework":
            next(words)
    if not out or len(sources) != 1:
        return _fail("cc: error: no output file or no single source")
    text = Path(sources[0]).read_text()
    for mode in ("SecKeychainSetUserInteractionAllowed", "SessionCreate", "\"nogui\"", "\"status\"",
                 "\"grant\"", "\"revoke\"", "add-generic-password"):
        if mode not in text:
            return _fail(f"cc (stand-in): {sources[0]} lacks {mode}: the stand-in program would not be the source's")
    Path(out).write_text(_program("testcaller", out, build or "1"))
    Path(out).chmod(0o755)
    _record(out).unlink(missing_ok=True)          # a new build is unsigned until codesign runs
    return 0


# --------------------------------------------------------------------------- codesign
def codesign(argv: list[str]) -> int:
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


def security(argv: list[str]) -> int:
    """The signing keychain's commands; anything else goes to the simulator."""
    if argv[:1] in (["create-keychain"], ["unlock-keychain"], ["import"], ["set-key-partition-list"]):
        path = argv[-1] if argv[0] != "import" else argv[argv.index("-k") + 1]
        data = _signing_keychain(path)
        if argv[0] == "create-keychain":
            Path(path).write_text(json.dumps({"password": argv[argv.index("-p") + 1], "identities": []}))
            return 0
        if not data:
            return _fail("security: SecKeychainOpen: The specified keychain could not be found.", 50)
        if argv[0] == "unlock-keychain":
            return 0 if argv[argv.index("-p") + 1] == data["password"] else _fail(
                "security: SecKeychainUnlock: The user name or passphrase you entered is not correct.", 51)
        if argv[0] == "import":
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
    os.execv(_sim()[0], [*_sim(), *argv])
    return 1


# --------------------------------------------------------------------------- the compiled test caller
def testcaller(program: str, build: str, argv: list[str]) -> int:
    import subprocess
    if not argv:
        return _fail("usage: testcaller find-generic-password|add-generic-password|grant|revoke|status|nogui ...", 2)
    mode, rest = argv[0], argv[1:]
    if mode == "nogui":
        rest = rest[1:] if rest[:1] == ["--"] else rest
        env = dict(os.environ)
        typed = env.get("KEYCHAIN_CLAIMS_WATCHED") == "typed"
        if not ("dialog" in faults() and typed):
            env["KEYCHAIN_SIM_UI"] = "none"          # the session has no window-server access
        if "slow" in faults() and "show-keychain-info" in rest:
            time.sleep(float(env.get("KEYCHAIN_CLAIMS_CALL_LIMIT") or 20) + 5)
        if "throttle" not in faults():
            os.execve(rest[0], rest, env)
        import signal
        proc = subprocess.Popen(rest, env=env)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, lambda *_: (proc.kill(), os._exit(1)))
        status = proc.wait()
        if status == 36:
            stamp = Path(env.get("KEYCHAIN_SIM_STATE", ".")) / "agent-respawn"
            last = float(stamp.read_text()) if stamp.exists() else 0.0
            wait = last + THROTTLE_INTERVAL - time.time()
            if wait > 0:
                time.sleep(wait)
            stamp.write_text(str(time.time()))
        return status
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
    return {"cc": cc, "codesign": codesign, "openssl": openssl, "security": security}[tool](rest)


if __name__ == "__main__":
    sys.exit(main())
