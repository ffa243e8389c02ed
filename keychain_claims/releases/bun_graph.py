"""The JavaScript module graph a Bun single-file executable (a native Claude Code release) carries,
read and written out as files, so the darwin build's JavaScript can run inside the same version's
host runtime (see ../shared/reference/native-releases.md).

Layout, as found in 2.1.113 and 2.1.331 (Bun's internal format: any release may change it):
    ... graph bytes ... | 32-byte block | "\\n---- Bun! ----\\n"
    block   = u64 byte_count, u32 modules_offset, modules_length, entry_point_id,
              exec_argv_offset, exec_argv_length, flags          (little-endian)
    graph   = the byte_count bytes before the block; offsets below are relative to its start
    modules = modules_length / 52 records: six u32 (offset, length) pairs -- name, contents,
              source map, bytecode, two more -- then u8 encoding, loader, module format, side
Names are `/$bunfs/root/...`; JavaScript may start `// @bun @bytecode` (bytecode stored beside it).
"""
from __future__ import annotations

import json
import mmap
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

from keychain_claims.errors import ReleaseProblem

TRAILER = b"\n---- Bun! ----\n"
BLOCK = struct.Struct("<QIIIIII")
RECORD = struct.Struct("<12I4B")
ROOT = b"/$bunfs/root/"
COMPLETE = ".complete"


class GraphError(ReleaseProblem):
    """One line: why the module graph of a binary cannot be read."""


@dataclass
class Module:
    name: str            # path below /$bunfs/root/
    offset: int          # of the contents, in the file
    length: int
    bytecode: int        # bytes of bytecode kept beside the source (not extracted)
    loader: int


JS = 1          # the loader of JavaScript modules
JS_SUFFIXES = (".js", ".mjs", ".cjs")


def _path(m: Module) -> str:
    """Where a module goes below the target: JavaScript without a suffix (2.1.331's entry is
    `cli`) gets `.js`, so the host runtime loads it as JavaScript."""
    return m.name + ".js" if m.loader == JS and not m.name.endswith(JS_SUFFIXES) else m.name


@dataclass
class Graph:
    binary: Path
    modules: list[Module]
    entry: str            # where the entry point is written, below the target
    entry_module: str     # its name in the graph, below /$bunfs/root/

    @property
    def source_bytes(self) -> int:
        return sum(m.length for m in self.modules)


def read(binary: Path) -> Graph:
    """The module table of a Bun executable; GraphError (one line) when it does not parse."""
    try:
        with open(binary, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _parse(binary, data)
    except (OSError, ValueError) as exc:
        raise GraphError(f"cannot read {binary.name}: {exc}") from None


def _parse(binary: Path, data) -> Graph:
    end = data.rfind(TRAILER)
    if end < BLOCK.size:
        raise GraphError(f"no Bun module graph in {binary.name} (trailer {TRAILER!r} not found); "
                         "Bun's format changed: fingerprints only")
    count, mod_off, mod_len, entry_id, *_ = BLOCK.unpack_from(data, end - BLOCK.size)
    start = end - BLOCK.size - count
    if start < 0 or mod_len % RECORD.size or mod_off + mod_len > count or not mod_len:
        raise GraphError(f"the Bun module table of {binary.name} does not parse (graph {count} bytes, "
                         f"table {mod_off}+{mod_len}); Bun's format changed: fingerprints only")
    modules = []
    for i in range(mod_len // RECORD.size):
        f = RECORD.unpack_from(data, start + mod_off + i * RECORD.size)
        name_off, name_len, body_off, body_len, _, _, _, code_len = f[:8]
        if name_off + name_len > count or body_off + body_len > count:
            raise GraphError(f"module {i} of {binary.name} points outside its graph; Bun's format changed: "
                             "fingerprints only")
        name = bytes(data[start + name_off: start + name_off + name_len])
        if not name.startswith(ROOT):
            raise GraphError(f"module {i} of {binary.name} is not under /$bunfs/root/ ({name[:40]!r}); "
                             "Bun's format changed: fingerprints only")
        modules.append(Module(name[len(ROOT):].decode("utf-8", "replace"), start + body_off, body_len,
                              code_len, f[13]))
    if sum(m.length for m in modules) > count:        # overlapping records: never write more than the graph
        raise GraphError(f"the modules of {binary.name} overlap (more bytes than its graph holds); Bun's format "
                         "changed: fingerprints only")
    if entry_id >= len(modules):
        raise GraphError(f"the entry point of {binary.name} ({entry_id}) is not among its {len(modules)} modules")
    return Graph(binary, modules, _path(modules[entry_id]), modules[entry_id].name)


def extract(graph: Graph, target: Path, root: Path | None = None) -> Path:
    """Write every module below `target` (source, not bytecode: `@bytecode` dropped from the first
    line, `/$bunfs/root/` rewritten to `root`, by default `target`: the folder the files will be
    used from); returns the entry's path.  Done once per target: a `.complete` marker says the
    files are whole."""
    entry = target / graph.entry
    if (target / COMPLETE).exists():
        return entry
    shutil.rmtree(target, ignore_errors=True)
    prefix = str(root or target).encode() + b"/"
    with open(graph.binary, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        for m in graph.modules:
            body = data[m.offset: m.offset + m.length]
            if m.loader == JS:
                first, nl, rest = body.partition(b"\n")
                if first.startswith(b"// @bun"):
                    first = first.replace(b" @bytecode", b"")
                body = (first + nl + rest).replace(ROOT, prefix)
            path = target / _path(m)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
    (target / COMPLETE).write_text("ok")
    return entry


PRELOAD = """\
// keychain-claims: an Anthropic runtime on this host starts the darwin build's JavaScript of {version}
// instead of its own entry point (Bun.main), and then lives and exits as that program does.
// The darwin entry is found beside this file: a copied or moved cache runs its own graph.
const darwinEntry = import.meta.dir + "/" + {entry};
Bun.plugin({{
  name: "keychain-claims: darwin build",
  setup(build) {{
    build.onResolve({{ filter: /^\\/\\$bunfs\\/root\\// }}, (args) =>
      args.path === Bun.main ? {{ path: darwinEntry, namespace: "keychain-claims" }} : undefined);
    build.onLoad({{ filter: /.*/, namespace: "keychain-claims" }}, (args) =>
      ({{ contents: `import ${{JSON.stringify(args.path)}};`, loader: "js" }}));
  }},
}});
"""


def preload(version: str, entry: str) -> str:
    """A `--preload` module for an Anthropic runtime: its own entry point (whatever its graph calls
    it: Bun.main) resolves to `entry` (a path relative to the preload: the written-out darwin
    entry), loaded through a one-line module that imports it from disk."""
    return PRELOAD.format(version=version, entry=json.dumps(entry))
