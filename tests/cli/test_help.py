"""The command line a newcomer expects (issue 31): `--help` lists every sub-command and says what each
option means, every command says what it did on success, and a machine-readable mode prints only JSON."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from keychain_claims.cli import main, parser

CLI = Path(sys.executable).with_name("keychain-claims")


def test_help_lists_every_sub_command_with_a_sentence(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    commands = parser()._subparsers._group_actions[0].choices
    assert "assumptions" in commands
    for name in commands:
        line = re.search(rf"^\s+{name}\s+(\S.*)$", text, re.M)
        assert line and len(line[1].split()) >= 3, (name, text)


@pytest.mark.parametrize("command", ["report", "check", "sweep", "fidelity", "bisect", "merge", "versions",
                                     "changes"])
def test_every_option_and_argument_of_a_sub_command_has_help(command):
    sub = parser()._subparsers._group_actions[0].choices[command]
    bare = [a.dest for a in sub._actions if a.dest != "help" and not (a.help or "").strip()]
    assert bare == []


def test_check_says_what_agreed(capsys):
    assert main(["check"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"ledger and article agree: \d+ claims, \d+ omissions \(.*\)", out[-1]), out


def test_changes_from_another_folder_blames_the_path(tmp_path, monkeypatch, capsys):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "release-matrix.json").write_text(json.dumps(
        {"releases": ["1.0.0", "2.0.0"], "cells": [{"claim": "CAU-X", "release": r, "verdict": "holds",
                                                     "evidence": []} for r in ("1.0.0", "2.0.0")]}))
    elsewhere = tmp_path / "features"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["changes", "reports", "--from", "1.0.0", "--to", "2.0.0"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"no folder reports (looked for {elsewhere / 'reports'})" in err
    assert "run the suite" not in err
    assert main(["changes", "../reports", "--from", "1.0.0", "--to", "2.0.0"]) == 0
    said = capsys.readouterr()
    assert said.out == ""          # nothing differs: stdout empty (watch.yml reads it), the person told on stderr
    assert said.err.startswith("no claim's verdict differs between Claude Code 1.0.0 and 2.0.0")


def test_assumptions_json_prints_only_json(tmp_path):
    proc = subprocess.run([str(CLI), "assumptions", "--settle", "--json", "--backend", "sim",
                           "--only", "ERROR-TEXT-UNKNOWN", "--out", str(tmp_path / "settled")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)          # the whole of stdout is one JSON document
    assert any(r["id"] == "ERROR-TEXT-UNKNOWN" for r in rows)
    assert proc.stderr.startswith("assumptions: ")


def test_report_names_every_page_it_built(tmp_path, monkeypatch, capsys):
    from keychain_claims import cli
    reports = tmp_path / "reports"
    (reports / "allure-results").mkdir(parents=True)
    for name in ("claims.json", "article.html", "claims.md", "release-matrix.html", "release-history.html",
                 "article.proposed.md"):
        (reports / name).write_text("{}")
    monkeypatch.setattr(cli, "report", lambda results, output, history, claims: output / "index.html")
    assert main(["report", "--results", str(reports / "allure-results"), "--output", str(reports / "html")]) == 0
    out = capsys.readouterr().out
    for name in ("index.html", "article.html", "article.proposed.md", "claims.md", "release-matrix.html",
                 "release-history.html"):
        assert name in out, (name, out)


def test_fidelity_json_with_settled_transcripts_is_one_json_document(tmp_path, monkeypatch, capsys):
    from keychain_claims.measures import fidelity
    monkeypatch.setattr(fidelity, "run", lambda directory=None: [])
    monkeypatch.setattr(fidelity, "run_behaviour", lambda directory=None: [])
    monkeypatch.setattr(fidelity, "settled", lambda directory: [{"id": "X", "state": "agrees"}])
    (tmp_path / "settled").mkdir()
    assert main(["fidelity", "--settled", str(tmp_path / "settled"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)          # the whole of stdout
    assert doc["settled"] == [{"id": "X", "state": "agrees"}] and "matches" in doc
