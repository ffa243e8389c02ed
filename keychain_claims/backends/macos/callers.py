"""Test callers on a real Mac: testcaller.c compiled with the Command Line Tools' `cc`, one build
per code identity, signed ad hoc (`codesign -s -`) or with a throwaway self-signed code-signing
identity made for its team in a keychain of the sandbox; "rebuilt" = compiled again with another
build tag and signed again, "re-signed by another team" = another identity.

The same program answers what `security` cannot be asked without a dialog: whether the scratch
keychain is locked, and Always Allow's documented effect applied with the keychain password
(the app first in the item's decrypt ACL entry; its partition ID appended with
`set-generic-password-partition-list`, the password typed at its prompt).
"""
from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from pathlib import Path

from keychain_claims.backends.base import BackendError
from keychain_claims.harness import dump
from keychain_claims.harness.callers import SECURITY_TOOL

SOURCE = Path(__file__).with_name("testcaller.c")


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)


def _folder(sandbox) -> Path:
    path = sandbox.root / "callers"
    path.mkdir(exist_ok=True)
    return path


def _identity(sandbox, team: str) -> tuple[str, Path]:
    """A throwaway code-signing identity named after `team`, in a keychain of the sandbox."""
    folder = _folder(sandbox)
    keychain = folder / "signing.keychain-db"
    name = f"keychain-claims test team {team}"
    if not (folder / f"{team}.p12").exists():
        # a throwaway keychain of its own, with a throwaway password: codesign needs the identity
        # in a keychain, and neither the scratch keychain nor its password is lent to it
        password = sandbox.state.setdefault("signing-password", secrets.token_hex(16))
        key, cert, p12 = (folder / f"{team}.{ext}" for ext in ("key", "crt", "p12"))
        steps = [["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                  "-days", "1", "-subj", f"/CN={name}/OU={team}", "-addext", "extendedKeyUsage=codeSigning"],
                 ["openssl", "pkcs12", "-export", "-inkey", str(key), "-in", str(cert), "-out", str(p12),
                  "-passout", "env:KC_P12", "-legacy"]]
        if not keychain.exists():
            steps.append(["/usr/bin/security", "create-keychain", "-p", password, str(keychain)])
        steps += [["/usr/bin/security", "unlock-keychain", "-p", password, str(keychain)],
                  ["/usr/bin/security", "import", str(p12), "-k", str(keychain), "-P", password, "-A",
                   "-T", "/usr/bin/codesign"]]
        for argv in steps:
            proc = _run(argv, env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "KC_P12": password})
            if proc.returncode != 0:
                raise BackendError(f"could not make a signing identity for team {team}: {argv[0]} {argv[1]} "
                                   f"exited {proc.returncode}: {proc.stderr.strip()[:160]}")
    return name, keychain


def build(sandbox, identity) -> Path:
    """The test caller for `identity`, compiled and signed once per sandbox."""
    out = _folder(sandbox) / f"{identity.name}-{identity.signing}-{identity.team or 'none'}-{identity.build}"
    if out.exists():
        return out
    if shutil.which("cc") is None or shutil.which("codesign") is None:
        raise BackendError("test callers need the Command Line Tools (cc, codesign): xcode-select --install")
    proc = _run(["cc", "-O0", f'-DKC_BUILD="{identity.build}"', "-o", str(out), str(SOURCE),
                 "-framework", "Security", "-framework", "CoreFoundation"])
    if proc.returncode != 0:
        raise BackendError(f"cc could not build the test caller: {proc.stderr.strip()[:200]}")
    if identity.signing == "adhoc":
        sign = ["codesign", "-f", "-s", "-", "-i", identity.identifier, str(out)]
    elif identity.signing in ("developer-id", "app-store"):
        name, keychain = _identity(sandbox, identity.team)
        sign = ["codesign", "-f", "-s", name, "--keychain", str(keychain), "-i", identity.identifier, str(out)]
    else:
        raise BackendError(f"no test caller for {identity.signing} code on a Mac (arm64 runs signed code only)")
    proc = _run(sign)
    if proc.returncode != 0:
        raise BackendError(f"codesign could not sign the test caller: {proc.stderr.strip()[:200]}")
    return out


def partition_id(sandbox, identity) -> str:
    """securityd's partition ID for the caller: apple-tool: for security, cdhash:<hex> for our builds
    (ad hoc and throwaway identities alike: neither is Apple-issued)."""
    if identity is None or identity == SECURITY_TOOL:
        return "apple-tool:"
    proc = _run(["codesign", "-d", "-v", str(build(sandbox, identity))])
    found = re.search(r"CDHash=([0-9a-f]+)", proc.stderr)
    if not found:
        raise BackendError(f"codesign did not report the test caller's cdhash: {proc.stderr.strip()[:160]}")
    return f"cdhash:{found[1]}"


def _helper(sandbox) -> Path:
    from keychain_claims.harness.callers import app
    return build(sandbox, app("keychain-claims-helper", "adhoc"))


def keychain_locked(sandbox) -> bool:
    proc = _run([str(_helper(sandbox)), "status", str(sandbox.keychain.path)])
    if proc.returncode != 0:
        raise BackendError(f"could not tell whether the scratch keychain is locked: {proc.stderr.strip()[:160]}")
    return proc.stdout.strip() == "locked"


def _partitions(sandbox, account, service) -> list[str]:
    call = sandbox.security.run("dump-keychain", "-a", str(sandbox.keychain.path))
    item = next((i for i in dump.parse(call.stdout) if i.get("svce") == service
                 and (account is None or i.get("acct") == account)), None)
    return (item.partition_ids() if item else None) or []


def _set_partitions(sandbox, account, service, ids: list[str]) -> None:
    argv = ["set-generic-password-partition-list", "-S", ",".join(ids)]
    argv += (["-a", account] if account else []) + ["-s", service, str(sandbox.keychain.path)]
    call = sandbox.security.run(*argv, responder=sandbox.responder())     # password typed at its prompt
    if call.status != 0:
        raise BackendError(f"set-generic-password-partition-list exited {call.status}: {call.stderr.strip()[:160]}")


def _access(sandbox, verb: str, account, service, path: str) -> None:
    argv = [str(_helper(sandbox)), verb, "-a", account or "", "-s", service, "-t", path, str(sandbox.keychain.path)]
    proc = _run(argv, input=str(sandbox.keychain.password) + "\n")
    if proc.returncode != 0:
        raise BackendError(f"could not {verb} access for {path}: {proc.stderr.strip()[:160]}")


def grant(sandbox, identity, account, service, once: bool):
    path = SECURITY_TOOL.path if identity is None else str(build(sandbox, identity))
    before = _partitions(sandbox, account, service)
    _access(sandbox, "grant", account, service, path)
    wanted = partition_id(sandbox, identity)
    if before and wanted not in before:
        _set_partitions(sandbox, account, service, [*before, wanted])

    def restore() -> None:
        _access(sandbox, "revoke", account, service, path)
        if before:
            _set_partitions(sandbox, account, service, before)
    return restore if once else None
