"""keychain-sim on damaged state and secrets in its event log (issue 23, item 11): one line in
security(1)'s style, never a traceback; events.jsonl never keeps a secret in clear."""
from __future__ import annotations

import json

import pytest

from keychain_claims.sim import store


def _one_line(r) -> str:
    assert "Traceback" not in r.err, r.err
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("security: "), r.err
    return lines[0]


@pytest.fixture
def item(login):
    assert login("add-generic-password", "-a", "acct", "-s", "svc", "-w", "sekrit-value").status == 0
    return login


def test_a_keychain_without_items_is_not_a_keychain(item):
    with open(item.login, "w") as fh:
        json.dump({"magic": store.MAGIC, "version": 512, "salt": "00", "verifier": "00"}, fh)
    r = item("show-keychain-info", item.login)
    assert r.status != 0 and "not a valid keychain file" in _one_line(r)
    r = item("add-generic-password", "-a", "b", "-s", "svc", "-w", "x", item.login)
    assert r.status != 0 and "not a valid keychain file" in _one_line(r)
    for argv in (("dump-keychain", item.login), ("find-generic-password", "-s", "svc", item.login),
                 ("delete-generic-password", "-s", "svc", item.login)):
        r = item(*argv)
        assert r.status != 0 and "Traceback" not in r.err, r.err


@pytest.mark.parametrize("name, junk", [("runtime.json", "junk{"), ("runtime.json", '{"x": 1}'),
                                        ("prefs.json", "[1, 2]"), ("prefs.json", '{"search": "x"}'),
                                        ("prefs.json", "\udcff")])
def test_damaged_user_state_is_one_line_naming_the_file(item, name, junk):
    (item.state / name).write_text(junk, encoding="utf-8", errors="surrogateescape")
    for argv in (("find-generic-password", "-s", "svc", "-w"), ("list-keychains",), ("show-keychain-info",)):
        r = item(*argv)
        if r.status == 0:
            continue                      # this command does not read that file
        assert name in _one_line(r)


def test_item_data_that_is_not_hex_is_one_line(item):
    data = store.load_keychain(item.login)
    data["items"][0]["data"] = "zz-not-hex"
    store.save_keychain(item.login, data)
    r = item("dump-keychain", "-d")
    assert "Traceback" not in r.err and "Unable to decode the provided data" in r.err
    r = item("find-generic-password", "-s", "svc", "-w")
    assert r.status != 0 and "Traceback" not in r.err


@pytest.mark.parametrize("argv", [
    ("set-keychain-password", "-o", "pw-1", "-p", "new-pass-9"),
    ("add-generic-pasword", "-a", "a", "-s", "s", "-w", "typo-secret-7"),     # mistyped: no getopt known
    ("add-gen", "-a", "a", "-s", "s", "-wattached-secret-7"),
    ("import", "cert.p12", "-P", "import-phrase-3", "-k", "login.keychain"),
])
def test_the_event_log_never_keeps_a_secret(login, argv):
    login(*argv)
    login("-i", stdin=" ".join(argv) + "\n")
    log = (login.state / "events.jsonl").read_text()
    for secret in ("pw-1", "new-pass-9", "typo-secret-7", "attached-secret-7", "import-phrase-3"):
        assert secret not in log, log
    assert '"argv":["' + argv[0] in log
