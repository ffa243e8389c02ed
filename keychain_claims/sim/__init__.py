"""A simulator of macOS `security(1)`'s keychain subcommands (console script `keychain-sim`).

Spec: shared/reference/security-cli.md.  [SRC] behaviour is followed exactly; what the
spec marks [UNV] (or what had to be invented) lives in `unverified.py`, one place for a
real-Mac transcript to correct.

What security(1) *is* (its command table, option strings, `-i` lines, error texts, prompts, dialog
words) is keychain_claims/security/, shared with the macOS backend; this package is how the simulator
behaves.  Modules: cli (argv, `-i` and the prompt loop, dispatch), commands (the dispatch table: one
function per subcommand, from item_commands, keychain_commands and partition_commands), store
(keychain files, per-user state, clock, events, locking), crypto (keys and item data at rest), acl
(code identity, ACL and partition checks), agent (SecurityAgent dialogs and getpass on /dev/tty),
formats (what `security` prints), unverified (every [UNV] or invented behaviour), control (test-only
API for what argv cannot do).  What measures the simulator against macOS (fidelity, the behaviour
cases, transcript replays) is keychain_claims/measures/, above everything it measures.
"""


def command() -> list[str]:
    """The argv that runs keychain-sim: its console script beside this Python, else on PATH, else
    `python -m keychain_claims.sim` (the simulator backend, the rehearsal's stand-ins and the
    measuring tools all start it this way)."""
    import os
    import shutil
    import sys
    script = os.path.join(os.path.dirname(sys.executable), "keychain-sim")
    if os.path.exists(script):
        return [script]
    found = shutil.which("keychain-sim")
    return [found] if found else [sys.executable, "-m", "keychain_claims.sim"]
