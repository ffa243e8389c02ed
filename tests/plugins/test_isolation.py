"""The suite never touches the user's keychain or ~/.claude, and no secret leaks into
reports, output or the argv of the processes it starts (issue 7)."""
from __future__ import annotations

import json
import os

import pytest

pytestmark = pytest.mark.suite      # both tests start the claims suite in a subprocess

SUBSET = ("three_commands_move or prompt_is_raised or once_allowed or lookup_shows or "
          "delete_removes or without_the_redirect")


@pytest.fixture
def sentinel_home(tmp_path):
    home = tmp_path / "sentinel"
    files = {"Library/Keychains/login.keychain-db": b"REAL LOGIN KEYCHAIN - must not change",
             ".claude/.credentials.json": b'{"claudeAiOauth": {"accessToken": "the user\'s real token"}}',
             ".claude.json": b'{"numStartups": 42}'}
    for rel, data in files.items():
        path = home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (1_600_000_000, 1_600_000_000))
    return home, files


def test_suite_leaves_the_users_keychain_and_claude_files_alone(run_suite, sentinel_home):
    home, files = sentinel_home
    result = run_suite("--backend=sim", "-k", SUBSET, env={"HOME": str(home)})
    assert result.returncode == 0, result.stdout[-2000:]
    assert " passed" in result.stdout
    for rel, data in files.items():
        path = home / rel
        assert path.read_bytes() == data, rel
        assert path.stat().st_mtime == 1_600_000_000, rel
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file()) == sorted(files)


def test_no_secret_in_reports_output_or_argv(run_suite, tmp_path):
    audit = tmp_path / "argv.jsonl"
    result = run_suite("--backend=sim", "-n", "2", env={"KEYCHAIN_SIM_ARGV_AUDIT": str(audit)})
    assert result.returncode == 0, result.stdout[-2000:]
    assert "KCCANARY" not in result.stdout + result.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != audit]
    assert any(p.name == "claims.json" for p in written) and any(p.name.endswith("-result.json") for p in written)
    leaks = [p for p in written if b"KCCANARY" in p.read_bytes() or b"sk-ant-o" in p.read_bytes()]
    assert leaks == []
    argvs = [json.loads(line) for line in audit.read_text().splitlines()]
    assert len(argvs) > 100
    assert [a for a in argvs if "KCCANARY" in json.dumps(a) or "4b4343414e415259" in json.dumps(a).lower()] == []
