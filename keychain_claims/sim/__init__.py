"""A simulator of macOS `security(1)`'s keychain subcommands (console script `keychain-sim`).

Spec: shared/reference/security-cli.md.  [SRC] behaviour is followed exactly; what the
spec marks [UNV] (or what had to be invented) lives in `unverified.py`, one place for a
real-Mac transcript to correct.

Modules: cli (argv, `-i`: readline and split_line as security.c has them, dispatch), table (security's
real command table: order, usage texts), commands (one function per subcommand), store
(keychain files, per-user state, clock, events, locking), acl (code identity, ACL and
partition checks), agent (SecurityAgent dialogs and getpass on /dev/tty), formats
(what `security` prints), errors (OSStatus texts), control (test-only API), fidelity (replay of
real macOS transcripts, fixtures/transcripts/real: `keychain-claims fidelity`; not on the call path).
"""
