"""The package-level import graph of keychain_claims, and the layer order it must follow.

    python -m keychain_claims.layers            the graph: one line per package, what it imports
    python -m keychain_claims.layers --check    the same, then every breach of layers.yaml (exit 1)

Every module is read with `ast` (nothing is imported): each `import` / `from ... import` of a
keychain_claims module is an edge, made at module level (runs on load), at function level (runs on
call: inside a function or a method) or for the type checker only (under `if TYPE_CHECKING:`).
Modules fold to their package: the first folder under keychain_claims (backends/macos is
`backends`), or the module's own name for a top-level module (`atomic`, `cli`...); the root
package's __init__ is `keychain_claims`.

layers.yaml (next to this file) is the data: `layers`, bottom first, each a list of packages that
may import only packages of lower layers (an edge of any kind counts); `function_level`, the
function-level imports across packages that are allowed, each with its reason; `pending`, imports
exempt from every check until the work their reason names lands.  `problems()` lists what breaks
them: a package in no layer, a cycle, an arrow that does not point down, an unlisted function-level
import across packages, a listed import that is not made.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "keychain_claims"
SOURCE = Path(__file__).resolve().parent
RULES = SOURCE / "layers.yaml"


@dataclass(frozen=True)
class Import:
    importer: str      # dotted module name, e.g. keychain_claims.sim.cli
    imported: str      # dotted module name it names (a package's __init__ is the package's name)
    line: int
    kind: str          # "module" (runs on load), "function" (runs on call), "type" (under TYPE_CHECKING)

    @property
    def function_level(self) -> bool:
        return self.kind == "function"

    @property
    def source(self) -> str:
        return package_of(self.importer)

    @property
    def target(self) -> str:
        return package_of(self.imported)


def package_of(module: str) -> str:
    """keychain_claims.backends.macos.shim -> backends; keychain_claims.redact -> redact."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def modules(root: Path = SOURCE) -> dict[str, Path]:
    """Dotted name -> file, for every module of the package under `root`."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str:
    """The module `name` names: itself if it is a module, else its longest known prefix (a name
    imported from a module, `from keychain_claims.sim.store import Store`)."""
    while name not in known and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


class _Visitor(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, known: dict[str, Path]):
        self.module, self.is_package, self.known = module, is_package, known
        self.kind = "module"
        self.found: dict[tuple[str, int], Import] = {}

    def _add(self, name: str, line: int) -> None:
        if name == PACKAGE or name.startswith(PACKAGE + "."):
            imp = Import(self.module, _resolve(name, self.known), line, self.kind)
            self.found.setdefault((imp.imported, line), imp)

    def _inside(self, node: ast.AST, kind: str) -> None:
        outer, self.kind = self.kind, (self.kind if self.kind == "type" else kind)
        self.generic_visit(node)
        self.kind = outer

    def _function(self, node: ast.AST) -> None:
        self._inside(node, "function")

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else ""
        if name == "TYPE_CHECKING":
            self._inside(node, "type")
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:                              # relative: from its own package
            base = self.module.split(".")
            base = base[: len(base) - node.level + (1 if self.is_package else 0)]
            stem = ".".join(base + ([node.module] if node.module else []))
        else:
            stem = node.module or ""
        for alias in node.names:                    # `from pkg import module` names a module
            full = f"{stem}.{alias.name}"
            self._add(full if full in self.known else stem, node.lineno)


def imports(root: Path = SOURCE) -> list[Import]:
    """Every import of a keychain_claims module by a keychain_claims module, in file order."""
    known = modules(root)
    found: list[Import] = []
    for name, path in known.items():
        visitor = _Visitor(name, path.name == "__init__.py", known)
        visitor.visit(ast.parse(path.read_text(), str(path)))
        found += visitor.found.values()
    return found


def edges(found: list[Import]) -> dict[tuple[str, str], list[Import]]:
    """(package, package it imports) -> the imports that make the arrow; own package left out."""
    graph: dict[tuple[str, str], list[Import]] = {}
    for imp in found:
        if imp.source != imp.target:
            graph.setdefault((imp.source, imp.target), []).append(imp)
    return graph


def cycles(arrows: set[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected groups of more than one package (Tarjan), each sorted."""
    nodes = sorted({n for arrow in arrows for n in arrow})
    succ = {n: sorted(b for a, b in arrows if a == n) for n in nodes}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(n: str) -> None:
        index[n] = low[n] = len(index)
        stack.append(n)
        for m in succ[n]:
            if m not in index:
                visit(m)
                low[n] = min(low[n], low[m])
            elif m in stack:
                low[n] = min(low[n], index[m])
        if low[n] == index[n]:
            group = []
            while True:
                m = stack.pop()
                group.append(m)
                if m == n:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for n in nodes:
        if n not in index:
            visit(n)
    return sorted(groups)


@dataclass
class Rules:
    layers: list[list[str]]                         # bottom first
    function_level: dict[tuple[str, str], str]      # (importer module, imported module) -> why it waits
    pending: dict[tuple[str, str], str]             # imports exempt from every check, with whose they are

    def level(self, package: str) -> int | None:
        for i, layer in enumerate(self.layers):
            if package in layer:
                return i
        return None


def _entries(data: dict, section: str) -> dict[tuple[str, str], str]:
    """A section's entries ({importer, imports: [...], reason}) as (importer, imported) -> reason,
    module names made absolute."""
    absolute = lambda m: m if m == PACKAGE else f"{PACKAGE}.{m}"   # noqa: E731
    pairs = {}
    for entry in data.get(section) or []:
        if not str(entry.get("reason") or "").strip():
            raise ValueError(f"{RULES.name}: {section} entry for {entry.get('importer')} gives no reason")
        for imported in entry["imports"]:
            pairs[(absolute(entry["importer"]), absolute(imported))] = entry["reason"]
    return pairs


def rules(path: Path = RULES) -> Rules:
    import yaml
    data = yaml.safe_load(path.read_text())
    return Rules([list(layer) for layer in data["layers"]], _entries(data, "function_level"),
                 _entries(data, "pending"))


def checked(found: list[Import], given: Rules) -> list[Import]:
    """The imports the rules judge: all but those `pending` lists."""
    return [imp for imp in found if (imp.importer, imp.imported) not in given.pending]


def problems(found: list[Import], given: Rules, known: dict[str, Path] | None = None) -> list[str]:
    """Every way the import graph breaks the rules, one line each; [] when it keeps them."""
    out = []
    judged = checked(found, given)
    graph = edges(judged)
    packages = sorted({package_of(m) for m in (known or modules())})
    for p in packages:
        if given.level(p) is None:
            out.append(f"package {p} is in no layer of {RULES.name}")
    for group in cycles(set(graph)):
        out.append("cycle: " + " <-> ".join(group))
    for (a, b), via in sorted(graph.items()):
        la, lb = given.level(a), given.level(b)
        if la is not None and lb is not None and lb >= la:
            first = via[0]
            out.append(f"{a} -> {b} does not point down ({first.importer}:{first.line} imports "
                       f"{first.imported}{f' and {len(via) - 1} more' if len(via) > 1 else ''})")
    for imp in judged:
        if imp.function_level and imp.source != imp.target \
                and (imp.importer, imp.imported) not in given.function_level:
            out.append(f"function-level import across packages: {imp.importer}:{imp.line} imports "
                       f"{imp.imported}; import it at module level, or list it in {RULES.name} with a reason")
    made = {(imp.importer, imp.imported) for imp in found}
    made_in_function = {(imp.importer, imp.imported) for imp in found if imp.function_level}
    for importer, imported in sorted(set(given.function_level) - made_in_function):
        out.append(f"{RULES.name} lists a function-level import that is not made: {importer} -> {imported}")
    for importer, imported in sorted(set(given.pending) - made):
        out.append(f"{RULES.name} lists a pending import that is not made: {importer} -> {imported}")
    return out


def render(found: list[Import], given: Rules, known: dict[str, Path] | None = None) -> str:
    """The graph, top layer first: each package with its layer and the packages it imports, lowest
    first.  After a name: `*` only inside functions, `~` only for the type checker, `!` only through
    imports `pending` lists (each breaks the layers until the work it names lands)."""
    graph = edges(found)
    packages = sorted({package_of(m) for m in (known or modules())} | {p for arrow in graph for p in arrow})
    order = [p for layer in reversed(given.layers) for p in layer if p in packages]
    order += [p for p in packages if p not in order]
    width = max(len(p) for p in order)
    lines = []
    for p in order:
        targets = sorted((b for a, b in graph if a == p), key=lambda b: (-(given.level(b) or 0), b))
        shown = []
        for b in targets:
            via = graph[(p, b)]
            mark = ("!" if all((i.importer, i.imported) in given.pending for i in via)
                    else "*" if all(i.kind == "function" for i in via)
                    else "~" if all(i.kind == "type" for i in via) else "")
            shown.append(b + mark)
        level = given.level(p)
        lines.append(f"{'?' if level is None else level:>2} {p:<{width}} -> {', '.join(shown) or '(nothing)'}")
    cross = [i for i in found if i.function_level and i.source != i.target]
    pending = [i for i in found if (i.importer, i.imported) in given.pending]
    lines.append(f"{len(graph)} package arrows, {len(cycles(set(graph)))} cycles; "
                 f"{len(cross)} function-level imports across packages "
                 f"({len({(i.importer, i.imported) for i in cross})} module pairs); "
                 f"{len(pending)} imports pending; without them "
                 f"{len(cycles(set(edges(checked(found, given)))))} cycles")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    found = imports()
    given = rules()
    print(render(found, given))
    if "--check" in argv:
        wrong = problems(found, given)
        for line in wrong:
            print(line, file=sys.stderr)
        return 1 if wrong else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
