"""Test callers on a Mac: testcaller.c compiled with the Command Line Tools' `cc`, one build per
code identity, signed ad hoc (`codesign -s -`), with a throwaway self-signed code-signing identity
made for its team in a keychain of the sandbox, or -- when KEYCHAIN_CLAIMS_TEAM_IDENTITY names an
Apple-issued identity -- with that identity; "rebuilt" = compiled again with another build tag and
signed again, "re-signed by another team" = another identity.

Everything here runs in the sandbox's security session (session.argv, session.py) once it is open: the
signing keychain is unlocked there and codesign uses it there, so neither can wait on a dialog in
the runner's GUI session.  The same program, built once per sandbox as the *helper* (ad hoc, before
the session exists), says which session it runs in (`session`), starts the broker in a new one
where root may (`nogui`), tells whether the scratch keychain is locked without a dialog (`status`,
asked in the sandbox's session: the lock state is per session), and applies Always Allow's documented
effect with the keychain password (`grant`/`revoke`: the app first in the item's decrypt ACL entry;
its partition ID appended with `set-generic-password-partition-list`, the password typed at its
prompt).

Every function takes the sandbox's MacOSSession (backend.py), which holds what is kept per sandbox
(the callers built, the signing keychain's password) and names every tool (`session.tool`): the
real one on a Mac, a stand-in with the real one's documented behaviour in the rehearsal
(backends/rehearsal/standins.py).
"""
from __future__ import annotations

import os
import re
import secrets
import subprocess
from pathlib import Path

from typing import TYPE_CHECKING

from keychain_claims.errors import BackendError
from keychain_claims.security import dump
from keychain_claims.security.callers import SECURITY_TOOL, app

if TYPE_CHECKING:  # pragma: no cover
    from keychain_claims.backends.macos.backend import MacOSSession

SOURCE = Path(__file__).with_name("testcaller.c")
TEAM_IDENTITY_ENV = "KEYCHAIN_CLAIMS_TEAM_IDENTITY"      # an Apple-issued code-signing identity's name
TEAM_KEYCHAIN_ENV = "KEYCHAIN_CLAIMS_TEAM_KEYCHAIN"      # the keychain holding it (optional)
# LibreSSL (macOS 14/15's /usr/bin/openssl) has no `pkcs12 -legacy`; these algorithms are its defaults
# and are what `security import` reads; OpenSSL 3 still has them in its default provider
P12_ALGORITHMS = ["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"]
# what codesign may use the throwaway key for without a partition dialog (the CI recipe:
# `security set-key-partition-list -S apple-tool:,apple:,codesign: -s -k PASSWORD KEYCHAIN`; after
# `import` the key's partition list lacks apple:, and codesign's use of it raises a dialog)
SIGNING_PARTITIONS = "apple-tool:,apple:,codesign:"


def _run(session: "MacOSSession", argv: list[str], **kw) -> subprocess.CompletedProcess:
    """One tool call, in the sandbox's security session (the harness's own before it is open)."""
    env = kw.pop("env", None) or {}
    env = {**os.environ, "PATH": "/usr/bin:/bin:/usr/sbin:/sbin", **session.tool_env(), **env}
    limit = session.backend.call_limit
    try:
        return subprocess.run(session.argv(argv), capture_output=True, text=True, timeout=limit, env=env, **kw)
    except subprocess.TimeoutExpired:
        raise BackendError(f"harness: {Path(argv[0]).name} {argv[1] if len(argv) > 1 else ''} did not finish "
                           f"within {limit:.0f} s") from None


def _folder(session: "MacOSSession") -> Path:
    path = session.sandbox.root / "callers"
    path.mkdir(exist_ok=True)
    return path


def _throwaway_identity(session: "MacOSSession", team: str) -> tuple[str, Path]:
    """A throwaway code-signing identity named after `team`, in a keychain of the sandbox."""
    folder = _folder(session)
    keychain = folder / "signing.keychain-db"
    name = f"keychain-claims test team {team}"
    security = session.tool("security")
    if not (folder / f"{team}.p12").exists():
        # a throwaway keychain with a throwaway password: codesign needs the identity in a keychain,
        # and neither the scratch keychain nor its password is lent to it
        if session.signing_password is None:
            session.signing_password = secrets.token_hex(16)
        password = session.signing_password
        key, cert, p12 = (folder / f"{team}.{ext}" for ext in ("key", "crt", "p12"))
        openssl = session.tool("openssl")
        steps = [[openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                  "-days", "1", "-subj", f"/CN={name}/OU={team}", "-addext", "extendedKeyUsage=codeSigning"],
                 [openssl, "pkcs12", "-export", "-inkey", str(key), "-in", str(cert), "-out", str(p12),
                  "-passout", "env:KC_P12", *P12_ALGORITHMS]]
        if not keychain.exists():
            steps.append([security, "create-keychain", "-p", password, str(keychain)])
        else:
            steps.append([security, "unlock-keychain", "-p", password, str(keychain)])
        # no lock timeout: a new keychain locks after 300 idle seconds, and a later codesign would
        # then ask for its password in a dialog (`set-keychain-settings` without -t: no timeout)
        steps += [[security, "set-keychain-settings", str(keychain)],
                  [security, "import", str(p12), "-k", str(keychain), "-P", password, "-T", "/usr/bin/codesign"],
                  [security, "set-key-partition-list", "-S", SIGNING_PARTITIONS, "-s", "-k", password, str(keychain)]]
        for argv in steps:
            proc = _run(session, argv, env={"KC_P12": password})
            if proc.returncode != 0:
                raise BackendError(f"could not make a signing identity for team {team}: {Path(argv[0]).name} "
                                   f"{argv[1]} exited {proc.returncode}: {proc.stderr.strip()[:160]}")
    return name, keychain


def build_path(session: "MacOSSession", identity) -> Path:
    return _folder(session) / f"{identity.name}-{identity.signing}-{identity.team or 'none'}-{identity.build}"


def build(session: "MacOSSession", identity) -> Path:
    """The test caller for `identity`, compiled and signed once per sandbox."""
    out = build_path(session, identity)
    if out.exists():
        return out
    proc = _run(session, [session.tool("cc"), "-O0", f'-DKC_BUILD="{identity.build}"', "-o", str(out), str(SOURCE),
                          "-framework", "Security", "-framework", "CoreFoundation"],
                env={"KC_IDENTITY": identity.to_env()})
    if proc.returncode != 0:           # the whole of what cc said: its first lines are often only warnings
        said = proc.stderr.strip()
        raise BackendError(f"cc could not build the test caller (exit {proc.returncode}):\n{said}" if said
                           else f"cc could not build the test caller (exit {proc.returncode}, nothing said)")
    codesign = session.tool("codesign")
    if identity.signing == "adhoc":
        sign = [codesign, "-f", "-s", "-", "-i", identity.identifier, str(out)]
    elif identity.signing in ("developer-id", "app-store"):
        if os.environ.get(TEAM_IDENTITY_ENV):          # an Apple-issued identity: the team's real partition
            sign = [codesign, "-f", "-s", os.environ[TEAM_IDENTITY_ENV], "-i", identity.identifier]
            if os.environ.get(TEAM_KEYCHAIN_ENV):
                sign += ["--keychain", os.environ[TEAM_KEYCHAIN_ENV]]
            sign.append(str(out))
        else:
            name, keychain = _throwaway_identity(session, identity.team)
            sign = [codesign, "-f", "-s", name, "--keychain", str(keychain), "-i", identity.identifier, str(out)]
    else:
        out.unlink(missing_ok=True)
        raise BackendError(f"no test caller for {identity.signing} code on a Mac (arm64 runs signed code only)")
    proc = _run(session, sign, env={"KC_IDENTITY": identity.to_env()})
    if proc.returncode != 0:
        out.unlink(missing_ok=True)
        raise BackendError(f"codesign could not sign the test caller: {proc.stderr.strip()[:200]}")
    return out


def signature(session: "MacOSSession", path: str) -> dict[str, str]:
    """`codesign -d -vvv` of a built program: `-vvv` is what prints CDHash= (codesign(1); `-d -v`
    prints no hash) and TeamIdentifier= (`not set` for ad hoc and self-signed identities)."""
    proc = _run(session, [session.tool("codesign"), "-d", "-vvv", path])
    fields = dict(re.findall(r"^(\w+)=(.*)$", proc.stderr, re.M))
    if proc.returncode == 0 and not re.fullmatch(r"[0-9a-f]{40,64}", fields.get("CDHash", "")):
        # no CDHash= line: ad hoc code's designated requirement is its CDHash (`codesign -d -r-`:
        # `designated => cdhash H"…"`); code signed with an identity has none there
        req = _run(session, [session.tool("codesign"), "-d", "-r-", path])
        found = re.search(r'designated => cdhash H"([0-9a-f]{40,64})"', req.stdout)
        if req.returncode == 0 and found:
            fields["CDHash"] = found[1]
    if proc.returncode != 0 or not re.fullmatch(r"[0-9a-f]{40,64}", fields.get("CDHash", "")):
        raise BackendError(f"harness: codesign -d -vvv printed no CDHash= for the test caller, nor did its designated "
                           f"requirement hold one (exit {proc.returncode}): {proc.stderr.strip()[:160]}")
    return fields


def partition_id(session: "MacOSSession", identity) -> str:
    """securityd's partition ID for the caller: apple-tool: for security; teamid:<team> for code
    signed by an Apple-issued team identity; cdhash:<hex> otherwise (ad hoc and throwaway alike)."""
    if identity is None or identity == SECURITY_TOOL:
        return "apple-tool:"
    fields = signature(session, str(build(session, identity)))
    team = fields.get("TeamIdentifier", "not set")
    return f"teamid:{team}" if team and team != "not set" else f"cdhash:{fields['CDHash']}"


def helper_identity():
    return app("keychain-claims-helper", "adhoc")


def helper(session: "MacOSSession") -> Path:
    return build(session, helper_identity())


def keychain_locked(session: "MacOSSession") -> bool:
    proc = _run(session, [str(helper(session)), "status", str(session.sandbox.keychain.path)])
    if proc.returncode != 0:
        raise BackendError(f"could not tell whether the scratch keychain is locked: {proc.stderr.strip()[:160]}")
    return proc.stdout.strip() == "locked"


def _partitions(session: "MacOSSession", account, service) -> list[str]:
    box = session.sandbox
    call = box.security.run("dump-keychain", "-a", str(box.keychain.path), timeout=session.backend.call_limit)
    item = next((i for i in dump.parse(call.stdout) if i.get("svce") == service
                 and (account is None or i.get("acct") == account)), None)
    return (item.partition_ids() if item else None) or []


def _set_partitions(session: "MacOSSession", account, service, ids: list[str]) -> None:
    argv = ["set-generic-password-partition-list", "-S", ",".join(ids)]
    argv += (["-a", account] if account else []) + ["-s", service, str(session.sandbox.keychain.path)]
    box = session.sandbox
    call = box.security.run(*argv, responder=box.responder(), timeout=session.backend.call_limit)
    if call.status != 0:
        raise BackendError(f"set-generic-password-partition-list exited {call.status}: {call.stderr.strip()[:160]}")


def _access(session: "MacOSSession", verb: str, account, service, path: str) -> None:
    keychain = session.sandbox.keychain
    argv = [str(helper(session)), verb, "-a", account or "", "-s", service, "-t", path, str(keychain.path)]
    proc = _run(session, argv, input=str(keychain.password) + "\n")
    if proc.returncode != 0:
        raise BackendError(f"could not {verb} access for {path}: {proc.stderr.strip()[:160]}")


def grant(session: "MacOSSession", identity, account, service, once: bool):
    """Always Allow's effect for `identity`.  Everything that can fail without changing the item
    (the build, its signature, the partition ID) is done before the item is touched (issue 21:
    a missing CDHash used to raise after the ACL was already edited)."""
    path = SECURITY_TOOL.path if identity is None else str(build(session, identity))
    wanted = partition_id(session, identity)
    before = _partitions(session, account, service)
    _access(session, "grant", account, service, path)
    if before and wanted not in before:
        _set_partitions(session, account, service, [*before, wanted])

    def restore() -> None:
        _access(session, "revoke", account, service, path)
        if before:
            _set_partitions(session, account, service, before)
    return restore if once else None
