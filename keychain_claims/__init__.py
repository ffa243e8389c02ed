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
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ARTICLES_DIR = PROJECT_ROOT / "articles"
REPORTS_DIR = PROJECT_ROOT / "reports"
