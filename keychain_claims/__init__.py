"""keychain-claims: the harness behind the article conformance suite.

In layers, bottom first (keychain_claims/layers.yaml; a package imports only from layers below it,
tests/test_layers.py checks it, `python -m keychain_claims.layers` draws the graph):
  this root, runs, errors -- the paths; the runs in progress in this process (their secrets, their release
            cache lines); the one exception hierarchy
  atomic, redact -- atomic writes and bounded reads; the one redaction function
  security/  -- what security(1) is: command table, options, `-i` lines, error texts, prompts, dialogs
  fakes      -- Faker-made secrets with a canary
  sim/       -- the security(1) simulator (console script `keychain-sim`)
  owned      -- folders this process owns under build/ (sandboxes), swept after a killed run
  backends/  -- where `security` comes from: base interface, sim, macos (shim, safety, session), rehearsal
  harness/   -- one scenario's world: sandbox, drivers (security, shell), callers, dumps, transcripts
  claims/    -- the document under test (article), its claims ledger, coverage, outcomes, verdicts
  releases/  -- real Claude Code releases: registry, cache, runners, API stand-ins, fingerprints
  reports/   -- what reviewers read: claims.json/md, Allure files, matrix, history, merge
  measures/  -- tools that measure the layers below: assumptions, fidelity, replays, bisect
  plugins/   -- the suite's pytest plugins, called in order by the entry plugin (plugins/plugin.py)
  cli        -- `keychain-claims`
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
