"""Hooks the suite's plugins ask of conftest files (declared by the entry plugin, plugins/plugin.py)."""
import pytest


@pytest.hookspec(firstresult=True)
def pytest_keychain_claims_own_tests(config: pytest.Config) -> bool | None:
    """True when this pytest run is the project's own tests (tests/conftest.py answers), not a
    run of the claims suite: then the run does not check the article against the ledger and
    leaves the Allure results folder and the command line's backend alone."""
