"""keychain-claims: the harness behind the article conformance suite.

Grouped by concern:
  claims/    -- the document under test (article), its claims ledger, coverage checks, verdicts
  backends/  -- where `security` comes from: base interface, sim (keychain-sim), macos (shim, safety)
  harness/   -- one scenario's world: sandbox, drivers (security, shell), prompts, dumps, callers
  sim/       -- the security(1) simulator (console script `keychain-sim`)
  releases/  -- real Claude Code releases: registry, runners, API stand-ins, fingerprints
  reports/   -- what reviewers read: Allure files, attachments
  fakes, redact -- Faker-made secrets with a canary, and the one redaction function
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
