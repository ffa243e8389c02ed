"""keychain-claims: checks, claim by claim, articles/claude-code-keychain-acl-invalidation.md.

The suite's options are declared by keychain_claims.plugins.command_line, which pytest.ini loads
before the command line is read; the plugins below do the run."""

pytest_plugins = [
    "keychain_claims.plugins.command_line",   # already loaded by pytest.ini, unless a run names another ini
    "keychain_claims.plugins.publish",
    "keychain_claims.plugins.outcomes",
    "keychain_claims.plugins.ledger",
    "keychain_claims.plugins.backend",
    "keychain_claims.plugins.options",     # registered last of these: its hooks run first
    "keychain_claims.plugins.mutation",
    "fixtures.sandbox",
    "steps.keychain",
    "steps.terminal",
    "keychain_claims.plugins.releases",
    "steps.release_steps",
    "steps.refresh_steps",
    "steps.field_steps",
]
