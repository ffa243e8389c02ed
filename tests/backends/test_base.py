"""The backend interface: a narrow ABC (what a backend is, whether it runs here, open_session), the
session every sandbox gets, optional abilities as capabilities (None or False where a backend lacks
them), backend names in one table."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from keychain_claims import backends
from keychain_claims.backends import Backend, MacOSBackend, RehearsalBackend, Session, SimBackend, UserKeychainGuard
from keychain_claims.errors import BackendUnavailable, UserError

PACKAGE = Path(backends.__file__).parents[1]


def test_every_backend_name_is_in_one_table_and_names_its_class():
    assert backends.CHOICES == ("auto", "macos", "sim", "rehearsal")
    for name, cls in backends.BACKENDS.items():
        assert cls.name == name and backends.select(name).name == name
    with pytest.raises(BackendUnavailable, match="choose one of: auto, macos, sim, rehearsal") as info:
        backends.select("keyring")
    assert isinstance(info.value, UserError) and not isinstance(info.value, backends.BackendError)


def test_a_backend_missing_an_abstract_method_cannot_be_made():
    class Half(Backend):
        def unavailable(self):
            return None

        def security_command(self):
            return ["/bin/true"]

    with pytest.raises(TypeError, match="abstract"):
        Half()
    assert sorted(Backend.__abstractmethods__) == ["open_session", "security_command", "unavailable"]
    assert sorted(Session.__abstractmethods__) == ["advance_clock", "as_caller", "restart"]


def test_capabilities_are_declared_not_named():
    sim, mac, rehearsal = SimBackend(), MacOSBackend(real_dialogs=False), RehearsalBackend(faults="")
    assert sim.user_keychain_guard is None and not sim.builds_test_callers
    for backend in (mac, rehearsal):
        assert isinstance(backend.user_keychain_guard, UserKeychainGuard)
        assert backend.builds_test_callers
    assert mac.user_keychain_guard.system_security() == (["/usr/bin/security"], {})
    assert [b.covers_every_scenario for b in (sim, mac, rehearsal)] == [True, False, False]
    assert sim.harness_events() == [] and mac.harness_events() == []     # nothing recorded yet


def test_the_title_comes_from_the_provenance():
    assert repr(SimBackend()) == SimBackend().title == "sim (simulated)"
    assert repr(MacOSBackend(real_dialogs=False)) == "macos (real macOS)"
    assert RehearsalBackend(faults="").title == "rehearsal (simulated)"
    assert [b.provenance for b in (SimBackend(), MacOSBackend(False), RehearsalBackend(faults=""))] == \
        ["simulated", "real", "simulated"]


def _probes(path: Path):
    """getattr/hasattr calls whose object is a backend (`backend`, `x.backend`, `self._sim`; `self`
    in a module of backends/)."""
    in_backends = "backends" in path.parts
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr"):
            target = ast.unparse(node.args[0]) if node.args else ""
            if target.split(".")[-1] in ("backend", "chosen", "_sim") or (in_backends and target == "self"):
                yield node.func.id, target, ast.unparse(node.args[1]) if len(node.args) > 1 else ""


def test_no_caller_probes_a_backend_for_an_ability():
    found = []
    for path in [*PACKAGE.rglob("*.py"), *(PACKAGE.parent / "steps").glob("*.py"), *(PACKAGE.parent / "fixtures").glob("*.py")]:
        if path.parent.name == "backends" and path.name == "__init__.py":
            continue            # the lazy module table
        for how, target, what in _probes(path):
            found.append(f"{path.relative_to(PACKAGE.parent)}: {how}({target}, {what})")
    assert found == []


def _name_checks(path: Path):
    """Comparisons of a backend's `.name` with a string (`backend.name == "sim"`)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            names = [s for s in sides if isinstance(s, ast.Attribute) and s.attr == "name"
                     and "backend" in ast.unparse(s.value).lower()]
            literals = [s for s in sides if isinstance(s, ast.Constant) and isinstance(s.value, str)]
            if names and literals:
                yield ast.unparse(node)


def test_what_a_backend_can_do_is_a_capability_never_its_name():
    found = [f"{path.relative_to(PACKAGE.parent)}: {text}"
             for path in [*PACKAGE.rglob("*.py"), *(PACKAGE.parent / "steps").glob("*.py"),
                          *(PACKAGE.parent / "fixtures").glob("*.py")]
             for text in _name_checks(path)]
    assert found == []


def test_nothing_in_backends_imports_the_harness():
    """Backends sit below the harness (harness/sandbox.py and backends/macos/callers.py used to
    import each other)."""
    found = []
    for path in (PACKAGE / "backends").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("keychain_claims.harness"):
                found.append(f"{path.relative_to(PACKAGE)}: {node.module}")
    assert found == []
