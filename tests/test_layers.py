"""The package layers (keychain_claims/layers.yaml): the real import graph keeps them, and the
checker (keychain_claims/layers.py) finds each kind of breach on a small package made for it."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from keychain_claims import PROJECT_ROOT, layers


def test_the_import_graph_keeps_the_layers():
    """No package-level cycle, every arrow down the declared order, every function-level import
    across packages listed with its reason (keychain_claims/layers.yaml)."""
    assert layers.problems(layers.imports(), layers.rules()) == []


def test_every_package_is_in_a_layer_in_the_declared_order():
    given = layers.rules()
    packages = {layers.package_of(m) for m in layers.modules()}
    assert {p for layer in given.layers for p in layer} == packages
    assert given.level("security") < given.level("sim") < given.level("backends") < given.level("harness") \
        < given.level("claims") < given.level("releases") <= given.level("reports") < given.level("measures") \
        < given.level("plugins") < given.level("cli")


def test_the_readme_draws_the_graph_as_it_is():
    """README's Layout shows `python -m keychain_claims.layers`: its package lines as they are now."""
    drawn = layers.render(layers.imports(), layers.rules()).splitlines()[:-1]      # the counts line left out
    readme = (PROJECT_ROOT / "README.md").read_text()
    missing = [line for line in drawn if line not in readme]
    assert not missing, ("README's Layout graph is stale; paste `python -m keychain_claims.layers` "
                         f"(all but its last line) over it: {missing}")


# ------------------------------------------------------------------ the checker, on packages made for it

RULES = """
layers:
  - [keychain_claims, base]
  - [low]
  - [high]
  - [top]
function_level: []
pending: []
"""


def _package(tmp_path: Path, files: dict[str, str], rules: str = RULES) -> tuple[list[layers.Import], layers.Rules, dict]:
    root = tmp_path / "keychain_claims"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (tmp_path / "rules.yaml").write_text(rules)
    known = layers.modules(root)
    return layers.imports(root), layers.rules(tmp_path / "rules.yaml"), known


LOW_HIGH = {"base.py": "", "low/__init__.py": "", "low/a.py": "X = 1\n", "low/sub/__init__.py": "",
            "low/sub/b.py": "", "high/__init__.py": "", "high/c.py": "Y = 2\n", "top.py": ""}


def test_a_downward_module_level_import_is_no_problem(tmp_path):
    found, given, known = _package(tmp_path, {**LOW_HIGH, "high/c.py": "from keychain_claims.low.a import X\n"
                                                           "from keychain_claims.low.sub import b\n"
                                                           "from keychain_claims import base\n"})
    assert [(i.importer, i.imported, i.kind) for i in found] == [
        ("keychain_claims.high.c", "keychain_claims.low.a", "module"),
        ("keychain_claims.high.c", "keychain_claims.low.sub.b", "module"),
        ("keychain_claims.high.c", "keychain_claims.base", "module")]
    assert layers.problems(found, given, known) == []


def test_an_upward_import_and_the_cycle_it_closes_are_reported(tmp_path):
    found, given, known = _package(tmp_path, {**LOW_HIGH, "high/c.py": "from keychain_claims.low import a\n",
                                              "low/a.py": "from keychain_claims.high.c import Y\n"})
    got = layers.problems(found, given, known)
    assert "cycle: high <-> low" in got
    assert any(p.startswith("low -> high does not point down (keychain_claims.low.a:1") for p in got)
    assert len(got) == 2


def test_an_upward_import_hidden_in_a_function_or_for_the_type_checker_is_still_an_arrow(tmp_path):
    found, given, known = _package(tmp_path, {**LOW_HIGH, "low/a.py": """\
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from keychain_claims.high import c
        def f():
            from ..high.c import Y
            return Y
        """})
    assert [(i.imported, i.kind) for i in found] == [("keychain_claims.high.c", "type"),
                                                      ("keychain_claims.high.c", "function")]
    got = layers.problems(found, given, known)
    assert any(p.startswith("low -> high does not point down") for p in got)
    assert any(p.startswith("function-level import across packages: keychain_claims.low.a:5") for p in got)


def test_a_function_level_import_across_packages_needs_a_listed_reason(tmp_path):
    files = {**LOW_HIGH, "high/c.py": "def f():\n    from keychain_claims.low.a import X\n    return X\n",
             "high/d.py": "def g():\n    from keychain_claims.high.c import f\n    return f\n"}    # own package: fine
    found, given, known = _package(tmp_path, files)
    assert layers.problems(found, given, known) == [
        "function-level import across packages: keychain_claims.high.c:2 imports keychain_claims.low.a; "
        "import it at module level, or list it in layers.yaml with a reason"]
    listed = RULES.replace("function_level: []", "function_level:\n  - {importer: high.c, imports: [low.a], "
                                                  "reason: loads on use}")
    found, given, known = _package(tmp_path, files, listed)
    assert layers.problems(found, given, known) == []


def test_a_listed_import_that_is_not_made_is_reported(tmp_path):
    listed = RULES.replace("function_level: []", "function_level:\n  - {importer: high.c, imports: [low.a], "
                                                  "reason: loads on use}") \
                  .replace("pending: []", "pending:\n  - {importer: low.a, imports: [high.c], reason: someone's}")
    found, given, known = _package(tmp_path, {**LOW_HIGH, "high/c.py": "from keychain_claims.low.a import X\n"},
                                   listed)
    assert layers.problems(found, given, known) == [
        "layers.yaml lists a function-level import that is not made: keychain_claims.high.c -> keychain_claims.low.a",
        "layers.yaml lists a pending import that is not made: keychain_claims.low.a -> keychain_claims.high.c"]


def test_a_pending_import_is_exempt_but_drawn(tmp_path):
    pending = RULES.replace("pending: []", "pending:\n  - {importer: low.a, imports: [high.c], reason: someone's}")
    found, given, known = _package(tmp_path, {**LOW_HIGH, "high/c.py": "from keychain_claims.low import a\n",
                                              "low/a.py": "def f():\n    from keychain_claims.high import c\n"},
                                   pending)
    assert layers.problems(found, given, known) == []
    assert re.search(r"^ 1 low +-> high!$", layers.render(found, given, known), re.M)


def test_a_package_in_no_layer_and_a_listed_entry_without_reason_are_reported(tmp_path):
    found, given, known = _package(tmp_path, {**LOW_HIGH, "stray.py": "from keychain_claims.low import a\n"})
    assert layers.problems(found, given, known) == ["package stray is in no layer of layers.yaml"]
    with pytest.raises(ValueError, match="gives no reason"):
        _package(tmp_path, LOW_HIGH, RULES.replace("function_level: []",
                                                   "function_level:\n  - {importer: high.c, imports: [low.a]}"))


def test_the_entry_point_prints_the_graph_and_fails_on_a_breach(capsys, monkeypatch, tmp_path):
    assert layers.main([]) == 0 and layers.main(["--check"]) == 0
    out = capsys.readouterr().out
    assert " measures " in out and "package arrows" in out
    found, given, known = _package(tmp_path, {**LOW_HIGH, "low/a.py": "from keychain_claims.high import c\n"})
    monkeypatch.setattr(layers, "imports", lambda root=layers.SOURCE: found)
    monkeypatch.setattr(layers, "modules", lambda root=layers.SOURCE: known)
    monkeypatch.setattr(layers, "rules", lambda path=layers.RULES: given)
    assert layers.main(["--check"]) == 1
    assert "low -> high does not point down" in capsys.readouterr().err


def test_the_package_docstrings_name_the_modules_there_are():
    """keychain_claims/__init__.py names every package and top-level module; sim/__init__.py names
    each of its modules and no module it does not have; measures/__init__.py names each of its own."""
    import keychain_claims
    from keychain_claims import measures, sim
    known = layers.modules()
    words = lambda doc: set(re.findall(r"\w+", doc))        # noqa: E731
    packages = {layers.package_of(m) for m in known} - {"keychain_claims"}
    assert packages - words(keychain_claims.__doc__) == set()
    for package in (sim, measures):
        own = {m.split(".")[2] for m in known if m.startswith(package.__name__ + ".")} - {"__main__"}
        assert own - words(package.__doc__) == set(), package.__name__
    listed = set(re.findall(r"(\w+) \(", sim.__doc__.split("Modules:", 1)[1].split("What measures")[0]))
    assert listed <= {m.split(".")[2] for m in known if m.startswith("keychain_claims.sim.")}
