"""The Bun module graph reader (keychain_claims.releases.bun_graph) on small executables built here
in the layout native releases use; a layout it does not know is one line, never a traceback."""
from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from keychain_claims.releases import bun_graph
from keychain_claims.releases.release import Release
from keychain_claims.releases.unpack import write_graph


def bun_executable(path, modules, entry=0, trailer=bun_graph.TRAILER, junk=b"\x7fELF" + b"\0" * 60):
    """`modules`: (name, contents, loader).  Written as Bun lays out its graph: contents, then the
    52-byte module records, then the 32-byte block and the trailer."""
    graph, records = bytearray(), []
    for name, body, loader in modules:
        name_at = len(graph)
        graph += b"/$bunfs/root/" + name.encode() + b"\0"
        body_at = len(graph)
        graph += body + b"\0"
        records.append(bun_graph.RECORD.pack(name_at, len(name) + 13, body_at, len(body), 0, 0,
                                             body_at, 0 if loader != 1 else 7, 0, 0, 0, 0, 0, loader, 2, 0))
    table_at = len(graph)
    graph += b"".join(records)
    table_len = len(graph) - table_at
    block = bun_graph.BLOCK.pack(len(graph), table_at, table_len, entry, len(graph), 0, 15)
    path.write_bytes(junk + struct.pack("<Q", len(graph) + 48) + bytes(graph) + block + trailer + b"\0" * 100)
    return path


MODULES = [("src/entrypoints/cli.js", b"// @bun @bytecode @bun-cjs\nrequire('/$bunfs/root/helper.js')\n", 1),
           ("helper.js", b"// @bun @bytecode\nmodule.exports = 1\n", 1),
           ("image.node", b"\xcf\xfa\xed\xfe/$bunfs/root/", 10)]


def test_the_graph_is_read_and_written_out_as_source(tmp_path):
    graph = bun_graph.read(bun_executable(tmp_path / "claude", MODULES))
    assert [m.name for m in graph.modules] == ["src/entrypoints/cli.js", "helper.js", "image.node"]
    entry = bun_graph.extract(graph, tmp_path / "graph")
    assert entry == tmp_path / "graph" / "src" / "entrypoints" / "cli.js"
    assert entry.read_text() == f"// @bun @bun-cjs\nrequire('{tmp_path}/graph/helper.js')\n"
    assert (tmp_path / "graph" / "helper.js").read_text() == "// @bun\nmodule.exports = 1\n"
    assert (tmp_path / "graph" / "image.node").read_bytes() == b"\xcf\xfa\xed\xfe/$bunfs/root/"   # bytes left alone


def test_an_entry_without_a_suffix_is_written_as_javascript(tmp_path):
    graph = bun_graph.read(bun_executable(tmp_path / "claude", [("cli", b"// @bun @bytecode\nimport'x'\n", 1)]))
    assert graph.entry == "cli.js"
    assert bun_graph.extract(graph, tmp_path / "g").read_text() == "// @bun\nimport'x'\n"


@pytest.mark.parametrize("damage, says", [
    ({"trailer": b"\n---- Nub! ----\n"}, "no Bun module graph"),
    ({"entry": 7}, "entry point"),
])
def test_a_graph_that_does_not_parse_is_one_line(tmp_path, damage, says):
    binary = bun_executable(tmp_path / "claude", MODULES, **damage)
    with pytest.raises(bun_graph.GraphError, match=says) as caught:
        bun_graph.read(binary)
    assert "\n" not in str(caught.value)


def test_a_torn_module_table_is_one_line(tmp_path):
    binary = bun_executable(tmp_path / "claude", MODULES)
    data = bytearray(binary.read_bytes())
    end = data.rfind(bun_graph.TRAILER)
    count, off, length, *rest = bun_graph.BLOCK.unpack_from(data, end - 32)
    bun_graph.BLOCK.pack_into(data, end - 32, count, off, length - 3, *rest)       # not a whole record
    binary.write_bytes(bytes(data))
    with pytest.raises(bun_graph.GraphError, match="does not parse"):
        bun_graph.read(binary)


def test_a_release_whose_graph_cannot_be_read_runs_on_fingerprints_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("KEYCHAIN_CLAIMS_CACHE", str(tmp_path / "cache"))
    darwin = bun_executable(tmp_path / "claude", MODULES, trailer=b"\n---- Nub! ----\n")
    entry = tmp_path / "entry"
    entry.mkdir()
    doc = write_graph("9.9.9", darwin, entry, tmp_path / "final" / "graph")
    assert (entry / "darwin" / "claude").exists()           # kept: its strings are the fingerprints
    release = Release("9.9.9", entry / "darwin", "native", graph_error=doc["graph_error"])
    assert release.runnable_here.startswith("9.9.9: no Bun module graph") and "fingerprints only" in release.runnable_here


def test_the_preload_names_no_absolute_path(tmp_path):
    text = bun_graph.preload("9.9.9", "src/entrypoints/cli.js")
    assert "import.meta.dir" in text and "Bun.main" in text and str(tmp_path) not in text
    assert "const darwinEntry = import.meta.dir + \"/\" + \"src/entrypoints/cli.js\";" in text


# ---- the graph embedded in a copy of a runtime ------------------------------------------------------

def graph_payload(tmp_path, name, modules) -> bytes:
    """A graph as an executable holds it (u64 length, graph, block, trailer)."""
    out = tmp_path / f"{name}.bun"
    bun_graph.payload(bun_graph.read(bun_executable(tmp_path / name, modules)), out)
    return out.read_bytes()


def elf_runtime(path, payload: bytes, symbols: bytes = b"symbols of the runtime") -> Path:
    """A Linux Bun executable as `bun build --compile` lays one out: two loaded segments, the second
    (read-write) holding .data and then the `.bun` section with the runtime's own graph at its end;
    after it in the file, a section that is not loaded, the section names and the section table."""
    seg_off, seg_addr = 0x1000, 0x401000
    bun_off = 0x2000
    seg_end = bun_off + -(-len(payload) // 0x1000) * 0x1000
    names = b"\0.data\0.bun\0.comment\0.shstrtab\0"
    comment_off = seg_end
    names_off = comment_off + len(symbols)
    shoff = -(-(names_off + len(names)) // 8) * 8
    phdrs = [bun_graph.PHDR.pack(1, 4, 0, 0x400000, 0x400000, 0x1000, 0x1000, 0x1000),
             bun_graph.PHDR.pack(1, 6, seg_off, seg_addr, seg_addr, seg_end - seg_off, seg_end - seg_off, 0x1000)]
    shdrs = [bun_graph.SHDR.pack(0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
             bun_graph.SHDR.pack(1, 1, 3, seg_addr, seg_off, 0x1000, 0, 0, 64, 0),
             bun_graph.SHDR.pack(7, 1, 3, seg_addr + 0x1000, bun_off, len(payload), 0, 0, 8, 0),
             bun_graph.SHDR.pack(12, 1, 0, 0, comment_off, len(symbols), 0, 0, 1, 0),
             bun_graph.SHDR.pack(21, 3, 0, 0, names_off, len(names), 0, 0, 1, 0)]
    data = bytearray(shoff + len(shdrs) * bun_graph.SHDR.size)
    bun_graph.EHDR.pack_into(data, 0, b"\x7fELF\x02\x01\x01" + b"\0" * 9, 2, 62, 1, 0x401000, 64, shoff, 0, 64,
                             bun_graph.PHDR.size, len(phdrs), bun_graph.SHDR.size, len(shdrs), 4)
    data[64: 64 + len(phdrs) * bun_graph.PHDR.size] = b"".join(phdrs)
    data[seg_off: seg_off + 16] = b"runtime's data.."
    data[bun_off: bun_off + len(payload)] = payload
    data[comment_off: comment_off + len(symbols)] = symbols
    data[names_off: names_off + len(names)] = names
    data[shoff:] = b"".join(shdrs)
    path.write_bytes(bytes(data))
    path.chmod(0o755)
    return path


def _sections(path) -> dict[str, list]:
    data = path.read_bytes()
    hdr = bun_graph.EHDR.unpack_from(data, 0)
    rows = [list(bun_graph.SHDR.unpack_from(data, hdr[6] + i * bun_graph.SHDR.size)) for i in range(hdr[12])]
    names = data[rows[hdr[13]][4]:]
    return {names[r[0]: names.index(b"\0", r[0])].decode(): r for r in rows[1:]}


DARWIN = [("cli", b"// @bun @bytecode\nimport '/$bunfs/root/helper.js'\n" + b"// darwin\n" * 700, 1),
          ("helper.js", b"// @bun @bytecode\nexport const h = 1\n", 1)]


@pytest.mark.parametrize("own", [[("cli", b"// @bun\nlinux\n", 1)], [("cli", b"// @bun\n" + b"linux\n" * 3000, 1)]],
                         ids=["graph-grows", "graph-shrinks"])
def test_the_darwin_graph_goes_whole_into_a_copy_of_the_runtime(tmp_path, own):
    """The copy carries the darwin payload byte for byte where Bun looks for its graph (the `.bun`
    section, grown or not), its segment covers it, what followed is moved intact; the runtime is
    never written."""
    runtime = elf_runtime(tmp_path / "claude", graph_payload(tmp_path, "linux", own))
    before = runtime.read_bytes()
    darwin = graph_payload(tmp_path, "darwin", DARWIN)
    (tmp_path / "graph.bun").write_bytes(darwin)
    bun_graph.embed(runtime, tmp_path / "graph.bun", tmp_path / "copy")
    assert runtime.read_bytes() == before
    copy = (tmp_path / "copy").read_bytes()
    sec = _sections(tmp_path / "copy")
    assert sec[".bun"][5] == len(darwin) and copy[sec[".bun"][4]: sec[".bun"][4] + len(darwin)] == darwin
    assert copy[0x1000: sec[".bun"][4]] == before[0x1000: _sections(runtime)[".bun"][4]]   # code and data as they were
    assert copy[sec[".comment"][4]: sec[".comment"][4] + sec[".comment"][5]] == b"symbols of the runtime"
    load = bun_graph.PHDR.unpack_from(copy, 64 + bun_graph.PHDR.size)
    assert load[2] + load[5] >= sec[".bun"][4] + len(darwin) and load[5] == load[6]
    graph = bun_graph.read(tmp_path / "copy")
    assert [m.name for m in graph.modules] == ["cli", "helper.js"] and graph.entry_module == "cli"
    assert os.access(tmp_path / "copy", os.X_OK)


@pytest.mark.parametrize("runtime, says", [
    (lambda p: elf_runtime(p, b"\0" * 16384), "holds no module graph of its own"),     # the public bun's
    (lambda p: (p.write_bytes(b"#!/bin/sh\n" * 10), p)[1], "not a 64-bit little-endian ELF"),
], ids=["empty-bun-section", "a-script"])
def test_a_runtime_that_cannot_take_the_graph_is_one_line(tmp_path, runtime, says):
    (tmp_path / "graph.bun").write_bytes(graph_payload(tmp_path, "darwin", DARWIN))
    with pytest.raises(bun_graph.EmbedError, match=says) as caught:
        bun_graph.embed(runtime(tmp_path / "claude"), tmp_path / "graph.bun", tmp_path / "copy")
    assert "\n" not in str(caught.value) and not (tmp_path / "copy").exists()
    assert not list(tmp_path.glob(".copy*"))


def _newest_embedded():
    from keychain_claims.releases import registry
    from keychain_claims.releases.cache import cache_dir
    from keychain_claims.releases.manifests import read_doc
    for version in reversed(registry.cached_versions()):
        doc = read_doc(cache_dir() / "releases" / version / "entry.json") or {}
        if doc.get("form") == "native" and not doc.get("graph_error"):
            release = registry.load(version)
            if release.embedded is not None:
                return release
    return None


@pytest.mark.release
def test_a_graph_whose_bytecode_the_runtime_rejects_still_runs_from_source(tmp_path):
    """The newest cached native release, its darwin graph embedded with every module's bytecode
    header damaged (JSC rejects such bytecode, as it would another build's): the copy still starts
    the darwin code path, parsing the source, and answers `auth status --json` as the intact copy
    does -- through the sandbox's `security`."""
    import dataclasses
    from keychain_claims.backends.sim import SimBackend
    from keychain_claims.harness.sandbox import Sandbox
    from keychain_claims.releases import runner
    from keychain_claims.releases.release import runtime_binary
    release = _newest_embedded()
    if release is None:
        pytest.skip("no native Claude Code release whose graph is embedded is cached here")
    bad = tmp_path / "graph.bun"
    bad.write_bytes(release.embedded.parent.parent.joinpath("graph.bun").read_bytes())
    graph = bun_graph.read(bad)
    with open(bad, "r+b") as fh:
        for m in graph.modules:
            if m.bytecode and m.bytecode_at:
                fh.seek(m.bytecode_at)
                first = fh.read(1)
                fh.seek(m.bytecode_at)
                fh.write(bytes([first[0] ^ 0xFF]))
    bun_graph.embed(runtime_binary(release.host_root), bad, tmp_path / "claude")
    answers = {}
    for name, exe in (("intact", release.embedded), ("rejected", tmp_path / "claude")):
        with Sandbox(SimBackend()) as box:
            box.prepare()
            run = runner.run(dataclasses.replace(release, embedded=exe), box, "auth", "status", "--json")
            answers[name] = (run.status, run.stdout.replace(str(box.root), "<sandbox>"), runner.spawned(run))
    assert answers["rejected"] == answers["intact"]
    assert answers["intact"][2], f"{release.version} never called the sandbox's security: {answers}"
