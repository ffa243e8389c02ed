"""keychain-claims: checks, claim by claim, articles/claude-code-keychain-acl-invalidation.md."""
import importlib.util

pytest_plugins = [
    "keychain_claims.plugin",
    "fixtures.sandbox",
    "steps.keychain",
    "steps.terminal",
]
# release regression (issue 5) plugs in the same way once installed
pytest_plugins += [name for name in ("keychain_claims.release.plugin", "steps.release_steps")
                   if importlib.util.find_spec(name.rsplit(".", 1)[0]) and importlib.util.find_spec(name)]
