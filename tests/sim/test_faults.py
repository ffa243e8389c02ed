"""keychain-sim on damaged state and secrets in its event log (issue 23, item 11): one line in
security(1)'s style, never a traceback; events.jsonl never keeps a secret in clear."""
from __future__ import annotations

import json
from pathlib import Path

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


def test_a_short_write_of_the_journal_is_an_error_and_loses_nothing(item):
    """The disk fills mid-append (here: a file size limit a few bytes past the keychain's end, which
    gives a real short write, then EFBIG): the add used to exit 0 with its line torn off -- the item
    gone.  Now it fails as Security does (UNIX[…], errno + errSecErrnoBase), the keychain file is
    as it was, and the same add succeeds once there is room."""
    import errno
    import os
    import resource
    import subprocess

    from tests.sim.conftest import SIM
    before = Path(item.login).read_bytes()

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (len(before) + 20, resource.RLIM_INFINITY))
    argv = ["add-generic-password", "-a", "second", "-s", "svc", "-w", "another-secret-value", item.login]
    proc = subprocess.run(SIM + argv, capture_output=True, text=True, env=item.env, preexec_fn=limit,
                          stdin=subprocess.DEVNULL)
    status = 100000 + errno.EFBIG                   # errSecErrnoBase + errno
    assert proc.returncode == status & 0xFF, proc.stderr
    assert proc.stderr.strip() == (f"security: SecKeychainItemCreateFromContent ({item.login}): "
                                   f"UNIX[{os.strerror(errno.EFBIG)}]")
    assert Path(item.login).read_bytes() == before
    assert item("find-generic-password", "-a", "second", "-s", "svc", item.login).status == 44
    assert item(*argv).status == 0
    assert item("find-generic-password", "-a", "second", "-s", "svc", "-w", item.login).out.strip() == "another-secret-value"


def test_a_keychain_reached_through_a_link_is_one_keychain(login, tmp_path):
    """A keychain reached through a symbolic link from another folder: its writers took the lock
    of the link's folder (not the one writers using the real path take) and a rewrite replaced
    the link with a file of its own -- from then on two keychains, items split, every add exit 0."""
    import fcntl
    import os
    real = tmp_path / "real" / "k.keychain"
    link = tmp_path / "elsewhere" / "k.keychain"
    real.parent.mkdir()
    link.parent.mkdir()
    assert login("create-keychain", "-p", "pw", str(real)).status == 0
    link.symlink_to(real)
    with store.using_state(login.state), store.Locked(str(link)):
        fd = os.open(real.parent, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):        # the real path's writers wait for the link's
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    assert login("unlock-keychain", "-p", "pw", str(link)).status == 0
    big = "y" * 6000                                  # a few adds outgrow the journal: the file is rewritten
    for n in range(16):
        path = link if n % 2 else real
        assert login("add-generic-password", "-a", f"a{n}", "-s", "svc", "-w", big, str(path)).status == 0
    assert link.is_symlink() and os.path.realpath(link) == str(real)
    for n in range(16):
        assert login("find-generic-password", "-a", f"a{n}", "-s", "svc", str(real)).status == 0


@pytest.mark.parametrize("kind", ["dev-zero", "fifo"])
def test_a_keychain_that_is_a_device_or_a_fifo_is_refused_unread(login, tmp_path, kind):
    """Held-out inputs: a keychain path that leads to /dev/zero was read until MemoryError (a
    traceback; run here in a child limited to 1 GB of address space), and a FIFO was waited on for
    ever (its writer is closed after a while here, so the old reader would end rather than hang)."""
    import os
    import resource
    import subprocess
    import threading

    from tests.sim.conftest import SIM
    path = tmp_path / "k.keychain"
    closer = None
    if kind == "dev-zero":
        path.symlink_to("/dev/zero")
    else:
        os.mkfifo(path)
        writer = os.open(path, os.O_RDWR)
        closer = threading.Timer(15, os.close, (writer,))
        closer.start()

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    try:
        proc = subprocess.run(SIM + ["show-keychain-info", str(path)], capture_output=True, text=True,
                              env=login.env, preexec_fn=limit, stdin=subprocess.DEVNULL)
    finally:
        if closer is not None:
            closer.cancel()
            closer.join()
            try:
                os.close(writer)              # unless the timer already did
            except OSError:
                pass
    assert "Traceback" not in proc.stderr, proc.stderr[-500:]
    assert proc.stderr.strip().endswith("The specified keychain is not a valid keychain file."), proc.stderr
    assert proc.returncode == -25295 & 0xFF
