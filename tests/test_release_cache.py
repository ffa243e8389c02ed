"""The release cache (issue 9): a cached version costs no npm call, workers that need the same
release wait for one download instead of repeating it, a corrupt tarball is fetched again.
npm is replaced by a fake `npm pack` that builds a small package, so nothing here needs the
network (tests/test_bad_input.py fetches a real release)."""
from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import threading
import time

import pytest

from keychain_claims.releases import registry


@pytest.fixture
def packs(tmp_path, monkeypatch):
    """Every `npm pack` the registry module runs, answered by a fake that takes 0.2 s."""
    monkeypatch.setenv("KEYCHAIN_CLAIMS_CACHE", str(tmp_path / "cache"))
    calls: list[str] = []

    def fake_npm(*args, cwd=None):
        assert args[0] == "pack", f"npm {args[0]} was run; a cached exact version needs none"
        calls.append(args[1])
        version = args[1].rsplit("@", 1)[1]
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w:gz") as tar:
            body = f"// claude {version}\n".encode()
            info = tarfile.TarInfo("package/cli.js")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        time.sleep(0.2)                                      # long enough for a second worker to arrive
        name = f"anthropic-ai-claude-code-{version}.tgz"
        (cwd / name).write_bytes(data.getvalue())
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(data.getvalue()).digest()).decode()
        return f'[{{"filename": "{name}", "integrity": "{integrity}", "version": "{version}"}}]\n'

    monkeypatch.setattr(registry, "_npm", fake_npm)
    return calls


def test_workers_needing_the_same_release_download_it_once(packs):
    results: list = []
    workers = [threading.Thread(target=lambda: results.append(registry.load("2.1.81"))) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert packs == ["@anthropic-ai/claude-code@2.1.81"]
    assert len(results) == 3 and len({r.root for r in results}) == 1
    assert (results[0].root / "cli.js").read_text() == "// claude 2.1.81\n"


def test_a_cached_version_is_loaded_without_npm(packs):
    first = registry.load("2.1.81")
    again = registry.load("2.1.81")
    assert packs == ["@anthropic-ai/claude-code@2.1.81"] and again.root == first.root


def test_a_corrupt_tarball_is_downloaded_again(packs):
    _, tarball = registry.fetch("2.1.81")
    tarball.write_bytes(b"corrupt")
    _, again = registry.fetch("2.1.81")
    assert len(packs) == 2 and again.read_bytes() != b"corrupt"


def test_a_version_that_is_not_there_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KEYCHAIN_CLAIMS_CACHE", str(tmp_path / "cache"))

    def missing(*args, cwd=None):
        raise registry.ReleaseError("no such release of @anthropic-ai/claude-code@9.9.9: check the version")

    monkeypatch.setattr(registry, "_npm", missing)
    with pytest.raises(registry.ReleaseError, match="no such release"):
        registry.fetch("9.9.9")
    assert list((tmp_path / "cache").rglob("9.9.9")) == []
