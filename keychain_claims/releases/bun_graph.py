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
The executable holds the graph as a payload: u64 length, the graph, the block, the trailer.

A graph runs here in one of two ways.  Embedded (`embed`): a copy of a Linux runtime that carries a
graph of its own gets the darwin payload in place of its own, byte for byte, bytecode included --
its JSC then starts from that bytecode where its own build made it (else it parses the source, as
JSC does with any cached bytecode it rejects).  Written out (`extract`, the way when a runtime
cannot take a graph): every module as a file, its source parsed at every start.
"""
from __future__ import annotations

import json
import mmap
import os
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


class EmbedError(ReleaseProblem):
    """One line: why a graph cannot be embedded in a copy of a runtime (the graph is then written out)."""


@dataclass
class Module:
    name: str            # path below /$bunfs/root/
    offset: int          # of the contents, in the file
    length: int
    bytecode: int        # bytes of bytecode kept beside the source (not extracted)
    loader: int
    bytecode_at: int = 0  # where that bytecode starts, in the file


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
    start: int = 0        # where the graph starts in the file
    end: int = 0          # where its payload ends (after the trailer)

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
        name_off, name_len, body_off, body_len, _, _, code_off, code_len = f[:8]
        if name_off + name_len > count or body_off + body_len > count:
            raise GraphError(f"module {i} of {binary.name} points outside its graph; Bun's format changed: "
                             "fingerprints only")
        name = bytes(data[start + name_off: start + name_off + name_len])
        if not name.startswith(ROOT):
            raise GraphError(f"module {i} of {binary.name} is not under /$bunfs/root/ ({name[:40]!r}); "
                             "Bun's format changed: fingerprints only")
        modules.append(Module(name[len(ROOT):].decode("utf-8", "replace"), start + body_off, body_len,
                              code_len, f[13], start + code_off if code_len else 0))
    if sum(m.length for m in modules) > count:        # overlapping records: never write more than the graph
        raise GraphError(f"the modules of {binary.name} overlap (more bytes than its graph holds); Bun's format "
                         "changed: fingerprints only")
    if entry_id >= len(modules):
        raise GraphError(f"the entry point of {binary.name} ({entry_id}) is not among its {len(modules)} modules")
    return Graph(binary, modules, _path(modules[entry_id]), modules[entry_id].name, start, end + len(TRAILER))


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


# ---- the graph embedded in a copy of a runtime ------------------------------------------------------

LENGTH = struct.Struct("<Q")
EHDR = struct.Struct("<16sHHIQQQIHHHHHH")        # e_ident ... e_shstrndx (ELF64, little-endian)
PHDR = struct.Struct("<IIQQQQQQ")                # p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align
SHDR = struct.Struct("<IIQQQQIIQQ")              # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, ...
PT_LOAD = 1
PAGE = 0x1000


def payload(graph: Graph, target: Path) -> int:
    """The graph as an executable holds it -- u64 length, then the graph, its block and trailer,
    byte for byte from the binary (bytecode included) -- written to `target`; returns its size."""
    size = graph.end - graph.start
    with open(graph.binary, "rb") as src, open(target, "wb") as dst:
        dst.write(LENGTH.pack(size))
        src.seek(graph.start)
        left = size
        while left:
            chunk = src.read(min(left, 1 << 22))
            if not chunk:
                raise GraphError(f"{graph.binary.name} ends inside its module graph")
            dst.write(chunk)
            left -= len(chunk)
    return size + LENGTH.size


def bytecode_version(graph: Graph) -> str | None:
    """The cache version JSC wrote at the head of the graph's first bytecode (a u32, in hex; JSC's
    `GenericCacheEntry::isUpToDate` rejects bytecode whose version is not its own build's, and then
    the source is parsed); None when the graph carries no bytecode."""
    first = next((m for m in graph.modules if m.bytecode and m.bytecode_at), None)
    if first is None:
        return None
    with open(graph.binary, "rb") as fh:
        fh.seek(first.bytecode_at)
        return fh.read(4).hex()


def _align(n: int, to: int = PAGE) -> int:
    return -(-n // to) * to


def embed(runtime: Path, payload_file: Path, out: Path) -> None:
    """A copy of `runtime` (a Linux Bun executable that carries a module graph of its own) at `out`
    whose graph is `payload_file` instead.  Bun finds its graph through the `.bun` ELF section: a
    compiled executable holds, at that section's address, u64 length + graph, and the section is
    the last thing of the last loaded segment (the executable's own data ends before it).  The copy
    keeps every byte before that section, writes the new payload there, grows the section and its
    segment to fit it, and moves what follows in the file (section table, symbols) behind it.
    EmbedError (one line) when the runtime is not laid out that way (OSError when the copy cannot be
    written); `runtime` is never written."""
    try:
        _embed(runtime, payload_file, out)
    except BaseException:
        out.with_name(f".{out.name}.part").unlink(missing_ok=True)
        raise


def _embed(runtime: Path, payload_file: Path, out: Path) -> None:
    name = runtime.name
    new_size = payload_file.stat().st_size
    with open(runtime, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if len(data) < EHDR.size or data[:6] != b"\x7fELF\x02\x01":
            raise EmbedError(f"{name} is not a 64-bit little-endian ELF executable")
        hdr = list(EHDR.unpack_from(data, 0))
        phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx = hdr[5], hdr[6], hdr[9], hdr[10], hdr[11], hdr[12], hdr[13]
        if phentsize != PHDR.size or shentsize != SHDR.size or shstrndx >= shnum or shoff + shnum * SHDR.size > len(data):
            raise EmbedError(f"the ELF headers of {name} do not parse")
        sections = [list(SHDR.unpack_from(data, shoff + i * SHDR.size)) for i in range(shnum)]
        strtab = sections[shstrndx]
        names = bytes(data[strtab[4]: strtab[4] + strtab[5]])
        bun = [i for i, s in enumerate(sections) if names[s[0]: names.find(b"\0", s[0])] == b".bun"]
        if len(bun) != 1:
            raise EmbedError(f"{name} has no .bun section: it is not a Bun executable")
        sec = sections[bun[0]]
        s_addr, s_off, s_size = sec[3], sec[4], sec[5]
        held = LENGTH.unpack_from(data, s_off)[0] if s_off + LENGTH.size <= len(data) else 0
        if not (len(TRAILER) < held <= s_size - LENGTH.size
                and data[s_off + LENGTH.size + held - len(TRAILER): s_off + LENGTH.size + held] == TRAILER):
            raise EmbedError(f"the .bun section of {name} holds no module graph of its own ({s_size} bytes): "
                             "only a runtime that carries one can be given another")
        segments = [list(PHDR.unpack_from(data, phoff + i * PHDR.size)) for i in range(phnum)]
        loads = [i for i, p in enumerate(segments) if p[0] == PT_LOAD]
        last = max(loads, key=lambda i: segments[i][3] + segments[i][6])
        seg = segments[last]
        p_off, p_vaddr, p_filesz, p_memsz = seg[2], seg[3], seg[5], seg[6]
        seg_end = p_off + p_filesz
        if not (p_off <= s_off and s_off + s_size <= seg_end and p_filesz == p_memsz
                and s_addr - p_vaddr == s_off - p_off and seg_end - (s_off + s_size) < PAGE):
            raise EmbedError(f"the .bun section of {name} is not the end of its last loaded segment: "
                             "it cannot grow there")
        if any(s[4] >= seg_end and s[3] for s in sections) or any(
                p[2] >= seg_end and p[5] for i, p in enumerate(segments) if i != last):
            raise EmbedError(f"{name} maps data after its .bun section: it cannot grow there")
        shift = _align(max(0, s_off + new_size - seg_end))     # what follows moves by whole pages
        seg[5] = seg[6] = p_filesz + shift
        sec[5] = new_size
        for s in sections:
            if s is not sec and s[4] >= seg_end:
                s[4] += shift
        hdr[6] = shoff + shift if shoff >= seg_end else shoff
        tmp = out.with_name(f".{out.name}.part")
        with open(tmp, "wb") as dst:
            with memoryview(data) as view:
                dst.write(view[:s_off])
            with open(payload_file, "rb") as src:
                shutil.copyfileobj(src, dst, 1 << 22)
            dst.seek(seg_end + shift)                       # the rest of the segment: zeros
            dst.write(data[seg_end:])
            EHDR.pack_into(buf := bytearray(EHDR.size), 0, *hdr)
            dst.seek(0)
            dst.write(buf)
            for i, p in enumerate(segments):
                dst.seek(phoff + i * PHDR.size)
                dst.write(PHDR.pack(*p))
            for i, s in enumerate(sections):
                dst.seek(hdr[6] + i * SHDR.size)
                dst.write(SHDR.pack(*s))
        os.chmod(tmp, 0o755)
        os.replace(tmp, out)


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
