"""keychain-claims: checks, claim by claim, articles/claude-code-keychain-acl-invalidation.md."""

pytest_plugins = [
    "keychain_claims.plugin",
    "fixtures.sandbox",
    "steps.keychain",
    "steps.terminal",
    "keychain_claims.releases.plugin",
    "steps.release_steps",
    "steps.refresh_steps",
    "steps.field_steps",
]
