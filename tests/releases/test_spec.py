"""`--claude-code SPEC` parsed once (releases/spec.py): each item's kind decided in one place, which the
spec's check (releases/versions.py) and the loading of a release (releases/registry.py) both follow."""
from __future__ import annotations

import json

import pytest

from keychain_claims.releases import npm as npm_client, registry
from keychain_claims.releases.cache import ReleaseError
from keychain_claims.releases.release import Release
from keychain_claims.releases.spec import Kind, ReleaseSpec, SpecItem
from keychain_claims.releases.versions import parse_spec


@pytest.mark.parametrize("text, kind", [
    ("2.1.81", Kind.VERSION), ("2.0.0-beta.1", Kind.VERSION), ("latest", Kind.TAG), ("next", Kind.TAG),
    ("last:3", Kind.LAST), ("2.0.30..latest", Kind.RANGE), (" 2.0.30 .. 2.0.76 ", Kind.RANGE),
    ("./claude", Kind.PATH), ("../x..y/claude", Kind.PATH), ("~/claude", Kind.PATH),
])
def test_each_item_is_one_kind(text, kind):
    item = SpecItem.of(text)
    assert item.kind is kind and item.text == text.strip()
    assert ReleaseSpec.parse(f"2.1.0,{text}").items[1] == item


def test_a_spec_naming_nothing_is_one_line():
    with pytest.raises(ReleaseError, match="^--claude-code needs a version, `latest`, a comma list, or a path$"):
        ReleaseSpec.parse(" , ")


def test_a_range_and_last_n_carry_their_parts():
    spec = ReleaseSpec.parse("2.0.30 .. latest, last:2")
    assert [(i.start, i.end, i.count) for i in spec.items] == [("2.0.30", "latest", 0), ("", "", 2)]


@pytest.mark.parametrize("text, says", [
    ("last:0", "'last:0': last:N needs a whole number of releases N >= 1, e.g. last:3"),
    ("2.0.30..", "'2.0.30..' is not a range; write A..B with two versions (B may be `latest`)"),
    ("1..2..3", "'1..2..3' is not a range"),
])
def test_a_malformed_spec_is_one_line_before_the_registry_is_asked(tmp_path, monkeypatch, text, says):
    """The whole spec's syntax is checked first: a bad last item is said without asking npm for the list
    a range before it needs (the old check expanded the range first)."""
    monkeypatch.setenv("KEYCHAIN_CLAIMS_CACHE", str(tmp_path / "cache"))
    asked = []
    monkeypatch.setattr(npm_client, "run", lambda *a, **k: asked.append(a) or json.dumps(
        {"versions": ["2.0.30", "2.0.31"], "dist-tags": {"latest": "2.0.31"}}))
    with pytest.raises(ReleaseError) as caught:
        parse_spec(f"2.0.30..2.0.31,{text}")
    assert str(caught.value).startswith(says) and "\n" not in str(caught.value) and asked == []


def test_latest_is_the_registrys_tag_where_a_folder_is_named_latest(tmp_path, monkeypatch):
    """The spec's check said `latest` is the tag, the loader took ./latest for an installed claude (and
    refused it): both now follow the one classification."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KEYCHAIN_CLAIMS_CACHE", str(tmp_path / "cache"))
    (tmp_path / "latest").mkdir()
    wanted = Release("2.1.80", tmp_path / "cache" / "2.1.80", "js")
    monkeypatch.setattr(registry, "exact_version", lambda spec: {"latest": "2.1.80"}[spec])
    monkeypatch.setattr(registry, "_release", lambda version: (wanted, "cached") if version == "2.1.80" else None)
    assert parse_spec("latest") == ["latest"]
    assert registry.load("latest") is wanted
