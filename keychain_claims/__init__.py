"""keychain-claims: the harness behind the article conformance suite.

One concern per module:
  article   -- the document under test: sections, quoted spans, fenced commands
  ledger    -- the claims ledger (articles/*.claims.yaml) and per-run verdicts
  fakes     -- Faker-made users, passwords and tokens, each carrying the canary
  redact    -- the one redaction function every transcript and attachment goes through
  prompts   -- texts of every prompt security(1) or its dialogs show, and the Responder that answers them
  backend   -- where `security` comes from: real macOS or the shipped simulator
  sandbox   -- temp HOME, shim directory first on PATH, scratch keychain
  driver    -- pexpect drivers: one for `security` calls, one for an interactive shell
  sim       -- the security(1) simulator (console script `keychain-sim`)
"""
import os

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_DIRS = {"PROJECT_ROOT": "", "ARTICLES_DIR": "articles", "REPORTS_DIR": "reports"}


def __getattr__(name: str):
    """PROJECT_ROOT, ARTICLES_DIR, REPORTS_DIR as Paths -- made on first use, so the simulator,
    which imports this package on every `security` call, never pays for pathlib."""
    if name in _DIRS:
        from pathlib import Path
        return Path(_ROOT, _DIRS[name]) if _DIRS[name] else Path(_ROOT)
    raise AttributeError(name)
