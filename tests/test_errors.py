"""One exception hierarchy (keychain_claims/errors.py): every error the package raises on purpose
is a KeychainClaimsError in a branch that says what it means, and harness errors are matched by
class, never by their names."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from keychain_claims import errors

PACKAGE = Path(errors.__file__).parent
# not errors of this program: a pytest skip of one backend, and the xfail mechanism's assertion
NOT_ERRORS = {"BackendSkipped", "FindingHolds"}


def _exception_classes():
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_") and node.name not in NOT_ERRORS:
                bases = {ast.unparse(b).split(".")[-1] for b in node.bases}
                if any(b.endswith(("Error", "Exception")) or b in {"Usage", "RunError"} for b in bases):
                    yield module, node.name


def test_every_error_class_of_the_package_is_in_the_one_hierarchy():
    found = list(_exception_classes())
    assert len(found) >= 25
    outside = [f"{module}.{name}" for module, name in found
               if not issubclass(getattr(importlib.import_module(module), name), errors.KeychainClaimsError)]
    assert outside == []


def test_harness_errors_are_matched_by_class_not_by_name():
    class CallDeadline(Exception):          # a stranger that only shares a harness error's name
        pass

    assert not errors.is_harness_error(CallDeadline("x"))
    assert errors.is_harness_error(errors.CallDeadline("x")) and errors.is_harness_error(errors.BackendError("x"))

    class Subclass(errors.HarnessError):
        pass

    assert errors.is_harness_error(Subclass("x"))
    assert not errors.is_harness_error(errors.UserError("bad input")) and not errors.is_harness_error(None)


@pytest.mark.parametrize("name, branch", [
    ("keychain_claims.backends.macos.session.SessionError", errors.HarnessError),
    ("keychain_claims.backends.macos.shim.Refused", errors.HarnessError),
    ("keychain_claims.cli.CliError", errors.UserError),
    ("keychain_claims.claims.ledger.LedgerError", errors.UserError),
    ("keychain_claims.releases.cache.ReleaseError", errors.ReleaseProblem),
    ("keychain_claims.security.errors.SecError", errors.SecurityAnswer),
])
def test_each_error_sits_in_the_branch_that_says_how_it_is_handled(name, branch):
    module, cls = name.rsplit(".", 1)
    assert issubclass(getattr(importlib.import_module(module), cls), branch)


def test_the_errors_module_is_the_bottom_layer():
    imported = {n.module if isinstance(n, ast.ImportFrom) else a.name
                for n in ast.walk(ast.parse(Path(errors.__file__).read_text()))
                if isinstance(n, (ast.Import, ast.ImportFrom)) for a in getattr(n, "names", [])}
    assert not any(m and m.startswith("keychain_claims") for m in imported)
