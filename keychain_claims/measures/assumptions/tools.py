"""Probes: the Mac's own tools the macOS backend relies on (codesign, openssl)."""
from __future__ import annotations

from keychain_claims.measures.assumptions.probe import Held, Host, Unsettled, assumption
from keychain_claims.errors import BackendError
from keychain_claims.backends.macos import callers
from keychain_claims.security.callers import app


# ----------------------------------------------------------------------------- the Mac's tools
@assumption("CODESIGN-CDHASH", "`codesign -d -vvv` prints CDHash= and TeamIdentifier= for a signed program",
            "codesign(1)", "backends/macos/callers.py signature")
def _codesign(host: Host):
    if not host.mac_tools:
        return Unsettled("no codesign on this backend")
    path = str(callers.helper(host.sandbox.session))      # a build that fails: the probe could not run
    try:
        fields = callers.signature(host.sandbox.session, path)
    except BackendError as exc:  # codesign answered, without the fields: what the host said
        return Held(False, str(exc)[:200])
    return Held("TeamIdentifier" in fields, f"CDHash={fields['CDHash'][:12]}… TeamIdentifier={fields.get('TeamIdentifier')}")


@assumption("SIGNING-IDENTITY", "a throwaway identity made with `openssl pkcs12` (LibreSSL: no -legacy) and "
            "`security set-key-partition-list -S apple-tool:,apple:,codesign:` signs without a dialog",
            "LibreSSL openssl(1); SecurityTool/macOS/keychain_set.c set-key-partition-list",
            "backends/macos/callers.py _throwaway_identity")
def _signing(host: Host):
    if not host.mac_tools:
        return Unsettled("no codesign on this backend")
    callers.helper(host.sandbox.session)                  # cc and ad hoc signing work: else the probe could not run
    try:
        callers.build(host.sandbox.session, app("Probe Team", "developer-id", team="PROBE00000"))
    except BackendError as exc:  # making or using the throwaway identity is what is assumed
        return Held(False, str(exc)[:300])
    return Held(True, "built and signed with a throwaway team identity")


# ----------------------------------------------------------------------------- the sandbox's session
@assumption("SESSION-PER-SANDBOX", "a sandbox's session is its own (launchd's SessionCreate, else sudo -n and "
            "SessionCreate), without window-server access, and securityd keeps the scratch keychain's unlock "
            "in it and only there (per session and keychain)",
            "securityd/src/kcdatabase.cpp KeychainDbCommon::find; xnu audit_syscalls.c setaudit_addr (suser); "
            "launchd.plist(5) SessionCreate; Authorization.cpp SessionGetInfo",
            "backends/macos/session.py; sim/store.py runtime per KEYCHAIN_SIM_ASID")
def _sandbox_session(host: Host):
    launcher = host.sandbox.session.launcher
    if not host.mac_tools or not hasattr(launcher, "info"):
        return Unsettled("no session broker on this backend")
    import os
    import subprocess
    helper, kc = str(callers.helper(host.sandbox.session)), host.keychain
    inside = callers._run(host.sandbox.session, [helper, "status", kc])
    env = {**os.environ, **host.sandbox.session.tool_env()}
    outside = subprocess.run([helper, "status", kc], capture_output=True, text=True, env=env,
                             timeout=host.backend.call_limit)
    if inside.returncode or outside.returncode:
        raise RuntimeError(f"the helper's status failed: {inside.stderr.strip() or outside.stderr.strip()}"[:200])
    info = launcher.info
    return Held(inside.stdout.strip() == "unlocked" and outside.stdout.strip() == "locked",
                f"made by {launcher.how}: id={info.get('id')} attrs=0x{info.get('attrs', 0):x}; "
                f"the scratch keychain is {inside.stdout.strip()} in it, {outside.stdout.strip()} in the "
                "harness's own session")
