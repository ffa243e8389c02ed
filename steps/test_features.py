"""Collects every feature under features/ as pytest tests (one per scenario and backend)."""
import pytest
from pytest_bdd import scenarios

pytestmark = pytest.mark.usefixtures("backend")

scenarios(".")
