"""The project's own tests (README, "The project's own tests"), in folders that mirror the package's.
ROOT is the checkout they test, defined here once: `from tests import ROOT`."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
