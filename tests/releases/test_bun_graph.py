"""The Bun module graph reader (keychain_claims.releases.bun_graph) on small executables built here
in the layout native releases use; a layout it does not know is one line, never a traceback."""
from __future__ import annotations

import struct

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
