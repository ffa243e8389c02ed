#!/usr/bin/env python3
"""Held-out hostile run (issue 23): every path-taking option of `pytest --help` (keychain-claims
group) and of `keychain-claims --help`'s subcommands, and the simulator's environment, each given
a directory, a regular file, /proc/x and a read-only folder (/sys/kernel: read-only even for
root), plus damaged files and signals the fixes were not built against.  Prints one row per
input: one line / ok (accepted) / TRACEBACK / DATA LOST (a complete verdict table changed).

  python bench/hostile.py            (writes nothing outside build/hostile)
  HOSTILE_ONLY=issue29-lost python bench/hostile.py     only issue 29's points 7-14 (own block)
  HOSTILE_ONLY=evidence python bench/hostile.py         only issue 29's points 1-6 and their held-out
                                                        inputs (own block: harness trouble never a verdict)
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "hostile"
PY = sys.executable
CLI = str(Path(PY).with_name("keychain-claims"))
SIM = str(Path(PY).with_name("keychain-sim"))
ENV = {**os.environ, "TMPDIR": str(WORK / "tmp"), "KEYCHAIN_CLAIMS_CLAUDE_CODE": "none"}
SMALL = ["-k", "once_allowed"]
ROWS: list[tuple[str, str, str]] = []


def snapshot(folder: Path) -> dict:
    """The complete run's table (claims.json/md, outcomes.json); a partial run adds files beside it."""
    return {n: (folder / n).read_bytes() for n in ("claims.json", "claims.md", "outcomes.json")
            if (folder / n).is_file()} if folder.is_dir() else {}


def classify(proc, guarded: Path | None = None, before: dict | None = None) -> str:
    text = (proc.stdout or "") + (proc.stderr or "")
    if guarded is not None and snapshot(guarded) != before:
        return "DATA LOST"
    if "HANG" in text:
        return "HANG"
    if "Traceback" in text or "INTERNALERROR" in text:
        return "TRACEBACK"
    errors = [l for l in text.splitlines() if l.startswith(("ERROR:", "keychain-claims:", "security:"))
              or "could not write" in l]
    if proc.returncode == 0:
        return "ok (accepted)"
    return f"one line (rc {proc.returncode})" if len(errors) == 1 else f"{len(errors)} error lines (rc {proc.returncode})"


def first_error(proc) -> str:
    text = (proc.stdout or "") + (proc.stderr or "")
    lines = [l for l in text.splitlines() if l.startswith(("ERROR:", "keychain-claims:", "security:", "E  "))
             or "could not write" in l or "Error" in l]
    return (lines[0] if lines else text.strip().splitlines()[-1] if text.strip() else "")[:150]


def suite(args, env=None, timeout=300):
    return subprocess.run([PY, "-m", "pytest", "-p", "no:randomly", "--backend=sim", *args], cwd=ROOT,
                          capture_output=True, text=True, env={**ENV, **(env or {})}, timeout=timeout)


def record(name, proc, guarded=None, before=None):
    ROWS.append((name, classify(proc, guarded, before), first_error(proc)))
    print(f"{name:<58} {ROWS[-1][1]:<22} {ROWS[-1][2][:110]}", flush=True)


def damaged(run_dir: Path) -> None:
    bad = WORK / "bad-run"
    shutil.copytree(run_dir, bad)
    (bad / "outcomes.json").write_text(json.dumps({"backends": {"sim": True}, "outcomes": {"not": "a list"}}))
    record("merge: outcomes.json with outcomes a dict", subprocess.run(
        [CLI, "merge", str(bad), "--output", str(WORK / "m-bad"), "--no-html"], capture_output=True, text=True, env=ENV))
    (bad / "claims.json").write_text(json.dumps({"claims": [{"claim": "X", "quote": "q", "section": "s",
                                                             "verdict": "great", "backend": "sim"}]}))
    record("report: claims.json with an unknown verdict", subprocess.run(
        [CLI, "report", "--results", str(bad / "allure-results"), "--output", str(WORK / "o-bad"),
         "--claims", str(bad / "claims.json")], capture_output=True, text=True, env=ENV))
    (bad / "claims.json").write_bytes(b"\xff\xfe\x00junk")
    record("report: claims.json binary junk", subprocess.run(
        [CLI, "report", "--results", str(bad / "allure-results"), "--output", str(WORK / "o-bad2"),
         "--claims", str(bad / "claims.json")], capture_output=True, text=True, env=ENV))
    home = WORK / "sim-home"
    simenv = {**ENV, "HOME": str(home), "KEYCHAIN_SIM_STATE": str(home / "state")}
    subprocess.run([SIM, "create-keychain", "-p", "pw", "login.keychain"], env=simenv, capture_output=True)
    kc = home / "Library" / "Keychains" / "login.keychain-db"
    kc.write_bytes(os.urandom(300))
    record("keychain-sim: keychain file of random bytes", subprocess.run(
        [SIM, "find-generic-password", "-s", "x", str(kc)], capture_output=True, text=True, env=simenv))
    kc.write_text('{"magic":"keychain-sim/1","version":512,"items":[{"id":1,"attrs":{"svce":"x"}}],'
                  '"salt":"00","verifier":"00","settings":{},"next_id":2}\n')
    record("keychain-sim: item without data/acl, find -w", subprocess.run(
        [SIM, "find-generic-password", "-s", "x", "-w", str(kc)], capture_output=True, text=True, env=simenv))
    (home / "state" / "events.jsonl").unlink(missing_ok=True)
    (home / "state" / "events.jsonl").mkdir(parents=True)
    record("keychain-sim: events.jsonl is a directory", subprocess.run(
        [SIM, "list-keychains"], capture_output=True, text=True, env=simenv))
    (home / "state" / "clock").write_text("not a number")
    record("keychain-sim: KEYCHAIN_SIM_CLOCK junk", subprocess.run(
        [SIM, "list-keychains"], capture_output=True, text=True, env={**simenv, "KEYCHAIN_SIM_CLOCK": str(home / "state" / "clock")}))


# ==================================================================================================
# issue 29, points 1-6 and held-out H1-H5 (branch evidence-rule): faults that could turn the harness's
# own trouble into a verdict.  A probe plugin (-p kc_probe) makes one step raise, or the sandbox's
# `security` unstartable, before the step runs; each row says which verdict the claim got.
# ==================================================================================================
PROBE = """
import os
def pytest_bdd_before_step_call(request, step):
    if " ".join(step.name.split()) != os.environ["PROBE_STEP"]:
        return
    kind = os.environ["PROBE_RAISES"]
    if kind == "assert":
        raise AssertionError("probe: an assertion the scenario does not record")
    if kind == "noexec":
        request.getfixturevalue("world").sandbox.bin.joinpath("security").chmod(0)
        return
    raise (KeyError if kind == "crash" else RuntimeError)("probe: the harness broke")
"""


def verdict_row(name: str, proc, reports: Path, claim: str, wanted: str) -> None:
    table = reports / "claims.partial.json"
    if not table.exists():
        table = reports / "claims.json"
    got = "no table"
    if table.exists():
        got = next((c["verdict"] for c in json.loads(table.read_text())["claims"] if c["claim"] == claim), "absent")
    what = f"{claim} {got}" + ("" if got == wanted else f" (WRONG: wanted {wanted})")
    text = (proc.stdout or "") + (proc.stderr or "")
    if "Traceback" in text or "INTERNALERROR" in text:
        what += " TRACEBACK"
    ROWS.append((name, what, first_error(proc)))
    print(f"{name:<58} {what:<40}", flush=True)


def evidence_inputs() -> None:
    (WORK / "probe").mkdir(exist_ok=True)
    (WORK / "probe" / "kc_probe.py").write_text(PROBE)
    env = {"PYTHONPATH": str(WORK / "probe")}
    cases = [  # name, -k, step, fault, claim, the verdict it must get
        ("1: a Given step of a finding fails", "update_invalidates", "Claude Code has stored a credential for the current user",
         "assert", "CAU-UPDATE", "not-checkable"),
        ("2: a finding's scenario fails on another assertion", "update_invalidates",
         "Claude Code is updated to a newly signed build", "assert", "CAU-UPDATE", "fails"),
        ("4: a crash in a @refutes scenario", "updates_the_item_in_place_and_keeps", "1 item dialog was shown in all",
         "crash", "CAU-REFRESH", "not-checkable"),
        ("H1: a non-assertion error at a finding's own step", "update_invalidates", "2 item dialogs were shown in all",
         "runtime", "CAU-UPDATE", "not-checkable"),
        ("H3: security unstartable before a check", "later_keychain_write", "the item exists again", "noexec",
         "CAV-REWRITE", "not-checkable"),
    ]
    for name, keyword, step, fault, claim, wanted in cases:
        reports = WORK / f"ev-{len(ROWS)}"
        proc = suite(["-p", "kc_probe", "--claude-code=none", f"--reports-dir={reports}", "-k", keyword],
                     env={**env, "PROBE_STEP": step, "PROBE_RAISES": fault})
        verdict_row(name, proc, reports, claim, wanted)
    # 1 with a release (rehearsal): the shim took the scenario's second keychain; the verdict is the release's own
    for version, wanted in (("2.1.332", "contradicted"), ("2.1.81", "holds")):
        reports = WORK / f"ev-rehearsal-{version}"
        proc = subprocess.run([PY, "-m", "pytest", "-p", "no:randomly", "--backend=rehearsal", f"--claude-code={version}",
                               f"--reports-dir={reports}", "-k", "refuses_to_take"], cwd=ROOT, capture_output=True,
                              text=True, env={**ENV, "KEYCHAIN_CLAIMS_CLAUDE_CODE": version}, timeout=900)
        verdict_row(f"1: rehearsal {version}, a second keychain in the sandbox", proc, reports, "FIX-FILE-FALLBACK", wanted)
    # 5: an untagged failing scenario; --runxfail
    features = WORK / "features"
    shutil.copytree(ROOT / "features", features)
    (features / "zz_untagged.feature").write_text("Feature: untagged\n  Scenario: An untagged scenario that fails\n"
                                                  "    Given a scratch login keychain with no timeout\n"
                                                  "    Then 7 item dialogs were shown in all\n")
    reports = WORK / "ev-untagged"
    proc = suite([f"--reports-dir={reports}", "-o", f"bdd_features_base_dir={features}"], timeout=600)
    table = json.loads((reports / "claims.json").read_text()) if (reports / "claims.json").exists() else {}
    ROWS.append(("5: an untagged failing scenario", f"suite_failures: {len(table.get('suite_failures', []))}"
                 + ("" if table.get("suite_failures") else " (WRONG: not reported)"), first_error(proc)))
    print(ROWS[-1][:2], flush=True)
    before = snapshot(reports)
    record("5: --runxfail against a complete table", suite([f"--reports-dir={reports}", "--runxfail"], timeout=600),
           reports, before)
    # 6 and H5: article edits only the rendered text shows
    text = (ROOT / "articles" / "claude-code-keychain-acl-invalidation.md").read_text()
    for name, edit in (("6: a claim's sentence inside <!-- -->", lambda s: f"<!-- {s} -->"),
                       ("6: 'It is false that' before a sentence", lambda s: f"It is false that {s}"),
                       ("H5: a sentence only in a link definition's title",
                        lambda s: f'\n\n[x]: https://example.invalid "{s}"\n')):
        article = WORK / f"article-{len(ROWS)}" / "claude-code-keychain-acl-invalidation.md"
        article.parent.mkdir()
        sentence = "Costs one re-login." if "false" not in name else "Claude Code stores its OAuth token"
        article.write_text(text.replace(sentence, edit(sentence), 1))
        record(name, subprocess.run([CLI, "check", f"--article={article}",
                                     f"--ledger={ROOT / 'articles' / 'claude-code-keychain-acl-invalidation.claims.yaml'}"],
                                    capture_output=True, text=True, env=ENV))
    # 4 and H2: cache damage, proved by the next process (KEYCHAIN_CLAIMS_CACHE of its own, the registry unreachable)
    source = Path(os.environ.get("KEYCHAIN_CLAIMS_CACHE") or Path.home() / ".cache" / "keychain-claims" / "releases")
    if (source / "releases" / "2.1.81" / "entry.json").exists():
        cache = WORK / "cache"
        shutil.copytree(source / "releases" / "2.1.81", cache / "releases" / "2.1.81")
        cenv = {**ENV, "KEYCHAIN_CLAIMS_CACHE": str(cache), "npm_config_registry": "http://127.0.0.1:9"}
        load = [PY, "-c", "import sys; from keychain_claims.releases import registry\n"
                "try:\n    registry.load(sys.argv[1])\nexcept registry.ReleaseError as exc:\n"
                "    sys.exit(f'ERROR: {exc}')"]
        record("4: cache, a good copy", subprocess.run([*load, "2.1.81"], capture_output=True, text=True, env=cenv))
        cli = cache / "releases" / "2.1.81" / "package" / "cli.js"
        st = cli.stat()
        with open(cli, "r+b") as fh:
            fh.seek(100)
            byte = fh.read(1)
            fh.seek(100)
            fh.write(bytes([byte[0] ^ 1]))
        os.utime(cli, ns=(st.st_atime_ns, st.st_mtime_ns))
        record("4: cache, a same-size byte flip, stat restored", subprocess.run([*load, "2.1.81"], capture_output=True,
                                                                             text=True, env=cenv))
        (cache / "releases" / "2.1.79").symlink_to("2.1.81")
        record("H2: cache, 2.1.79 a link to 2.1.81's entry", subprocess.run([*load, "2.1.79"], capture_output=True,
                                                                          text=True, env=cenv))
        doc = json.loads((cache / "releases" / "2.1.81" / "entry.json").read_text())
        doc["files"] = {rel: "x" for rel in doc["files"]}
        (cache / "releases" / "2.1.81" / "entry.json").write_text(json.dumps(doc))
        record("4: cache, a manifest entry of the wrong type", subprocess.run([*load, "2.1.81"], capture_output=True,
                                                                            text=True, env=cenv))
        shutil.rmtree(cache / "releases" / "2.1.81")
        (cache / "releases" / "2.1.81").write_text("a file")
        record("4: cache, the entry's folder is a file", subprocess.run([*load, "2.1.81"], capture_output=True,
                                                                      text=True, env=cenv))



# =====================================================================================================
# Issue 29, points 7-14 (branch hostile-inputs): nothing lost, nothing mixed; one line, never a
# traceback, a hang or a memory bomb.  Its own block: `HOSTILE_ONLY=issue29-lost python bench/hostile.py`
# runs only it (against one complete run made first).
# =====================================================================================================
def _everything(folder: Path) -> dict:
    """Every file of a reports folder a run must leave alone (its partial files and the lock aside)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".partial" not in p.name and ".partial" not in p.parent.name
            and not p.name.endswith(".lock")} if folder.is_dir() else {}


def _record_kept(name, proc, folder, before):
    if "Traceback (most recent call last)" not in (proc.stdout or "") + (proc.stderr or ""):   # --help's "Traceback print mode"
        proc = subprocess.CompletedProcess(proc.args, proc.returncode, (proc.stdout or "").replace("Traceback", "traceback"),
                                           (proc.stderr or "").replace("Traceback", "traceback"))
    what = "DATA LOST" if _everything(folder) != before else classify(proc)
    ROWS.append((name, what, first_error(proc)))
    print(f"{name:<58} {what:<22} {ROWS[-1][2][:110]}", flush=True)


def _timed(argv, env=None, timeout=180, **kw):
    try:
        return subprocess.run(argv, capture_output=True, text=True, env=env or ENV, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, -1, "", f"HANG: no answer in {timeout} s")


def _root_tmpfs() -> bool:
    return os.geteuid() == 0 and subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


def nothing_lost_one_line(complete: Path) -> None:
    def copy(tag):
        target = WORK / f"i29-{tag}"
        shutil.copytree(complete, target)
        return target

    # 7. runs that reach no complete result, and --clean-alluredir on the reports folder
    for tag, args in (("help", ["--help"]), ("fixtures", ["--fixtures"]), ("markers", ["--markers"]),
                      ("setup-plan", ["--setup-plan"]), ("collect-only", ["--collect-only"]),
                      ("plugin-off", ["-p", "no:keychain_claims.plugins.publish"]),
                      ("allure-off", ["-p", "no:allure_pytest_bdd.plugin"]),
                      ("clean-alluredir", ["--clean-alluredir", "ON-REPORTS", *SMALL])):
        reports = copy(tag)
        (reports / "unrelated.txt").write_text("a file of the user's")
        before = _everything(reports)
        args = [f"--alluredir={reports}" if a == "ON-REPORTS" else a for a in args]
        _record_kept(f"7 pytest {' '.join(args)[:40]}", suite([f"--reports-dir={reports}", *args]), reports, before)
    # 8. two runs at once, and a merge during a run
    reports = copy("two-runs")
    first = subprocess.Popen([PY, "-m", "pytest", "-p", "no:randomly", "--backend=sim", f"--reports-dir={reports}"],
                             cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(reports.glob(".allure-results.staging-*")):
        time.sleep(0.1)
    record("8 a second run in the same reports folder", suite([f"--reports-dir={reports}", *SMALL]))
    record("8 merge of a folder a run is writing", _timed([CLI, "merge", str(reports), "--output",
                                                             str(WORK / "i29-merge"), "--no-html"]))
    first.wait(timeout=900)
    ROWS.append(("8 the first run, left alone", "ok (completes)" if first.returncode == 0 else f"rc {first.returncode}",
                 f"{len(list((reports / 'allure-results').glob('*-result.json')))} result files"))
    print(ROWS[-1], flush=True)
    # 9. keychain-sim on a full disk (a tmpfs with nothing left), and a short write (a file size limit)
    home = WORK / "i29-sim"
    simenv = {**ENV, "HOME": str(home), "KEYCHAIN_SIM_STATE": str(home / "state")}
    home.mkdir()
    _timed([SIM, "create-keychain", "-p", "pw", "login.keychain"], simenv)
    kc = home / "Library" / "Keychains" / "login.keychain-db"
    import resource
    size = kc.stat().st_size

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 20, resource.RLIM_INFINITY))
    add = [SIM, "add-generic-password", "-a", "a", "-s", "s", "-w", "x" * 200, str(kc)]
    proc = subprocess.run(add, capture_output=True, text=True, env=simenv, preexec_fn=limit)
    found = _timed([SIM, "find-generic-password", "-a", "a", "-s", "s", str(kc)], simenv).returncode == 0
    record(f"9 keychain-sim add, a short write (item kept: {found})",
           subprocess.CompletedProcess(add, 0 if (proc.returncode == 0 and not found) else proc.returncode,
                                       "", proc.stderr or ("DATA LOST: exit 0, item gone" if not found else "")))
    if _root_tmpfs():
        disk = WORK / "i29-disk"
        disk.mkdir()
        script = (f'mount -t tmpfs -o size=64k tmpfs "{disk}" && export HOME="{disk}" KEYCHAIN_SIM_STATE="{disk}/state" && '
                  f'"{SIM}" create-keychain -p pw login.keychain && dd if=/dev/zero of="{disk}/fill" bs=1k count=200 2>/dev/null; '
                  f'for i in 1 2 3 4 5 6 7; do "{SIM}" add-generic-password -a a$i -s s -w $(printf "%0300d" 0) login.keychain; '
                  f'echo "rc=$?"; done; rm -f "{disk}/fill"; for i in 1 2 3 4 5 6 7; do "{SIM}" find-generic-password '
                  f'-a a$i -s s login.keychain >/dev/null 2>&1; echo "found=$?"; done; umount "{disk}"')
        proc = _timed(["unshare", "-m", "sh", "-c", script])
        rcs = [l for l in proc.stdout.splitlines() if l.startswith("rc=")]
        lost = sum(1 for rc, f in zip(rcs, [l for l in proc.stdout.splitlines() if l.startswith("found=")])
                   if rc == "rc=0" and f != "found=0")
        ROWS.append(("9 keychain-sim add x7 on a full tmpfs", f"{lost} lost of {rcs.count('rc=0')} exit 0",
                     (proc.stderr.strip().splitlines() or [""])[0]))
        print(ROWS[-1], flush=True)
    # 10. a keychain reached through a symlink, writers on both paths at once
    real, link = WORK / "i29-real" / "k.keychain", WORK / "i29-link" / "k.keychain"
    real.parent.mkdir()
    link.parent.mkdir()
    _timed([SIM, "create-keychain", "-p", "pw", str(real)], simenv)
    link.symlink_to(real)
    envs = [{**simenv, "KEYCHAIN_SIM_STATE": str(home / f"state{n}")} for n in (1, 2)]
    for env, path in zip(envs, (real, link)):
        _timed([SIM, "unlock-keychain", "-p", "pw", str(path)], env)
    script = "".join(f"add-generic-password -a {{p}}{i} -s s -w {'y' * 3000}\n" for i in range(30))
    procs = [subprocess.Popen([SIM, "-i"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env=env, text=True) for env in envs]
    for proc, tag, path in zip(procs, ("r", "l"), (real, link)):
        proc.stdin.write(script.replace("{p}", tag).replace("\n", f" {path}\n"))
        proc.stdin.close()
    for proc in procs:
        proc.wait(timeout=300)
    seen = sum(_timed([SIM, "find-generic-password", "-a", f"{t}{i}", "-s", "s", str(real)], simenv).returncode == 0
               for t in "rl" for i in range(30))
    ROWS.append(("10 60 adds through a symlink and the real path at once", "ok (accepted)" if seen == 60 and
                 link.is_symlink() else f"DATA LOST ({seen} of 60 in one file)", f"link still a link: {link.is_symlink()}"))
    print(ROWS[-1], flush=True)
    # 11. hostile ledgers (keychain-claims check) and a FIFO or /dev/zero given to the suite
    base = "claims:\n  - id: C\n    section: cause\n    quote: q\n    statement: s\n    evidence: shell-recipe\n"
    bomb = "\n".join(["a0: &a0 [x, x, x, x, x, x, x, x, x]"] + [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]"
                                                              for n in range(1, 10)]) + "\n"
    for tag, text in (("finding without scenario", base + "    findings:\n      - {evidence: e}\n"),
                      ("finding without evidence", base + "    findings:\n      - {scenario: s}\n"),
                      ("finding a string", base + "    findings:\n      - just a string\n"),
                      ("findings a mapping", base + "    findings:\n      scenario: x\n"),
                      ("quote a number", base.replace("quote: q", "quote: 5")),
                      ("quote a list", base.replace("quote: q", "quote: [a, b]")),
                      ("releases >=two.1", base + "    findings:\n      - {scenario: s, evidence: e, releases: '>=two.1'}\n"),
                      ("backend anny", base + "    findings:\n      - {scenario: s, evidence: e, backend: anny}\n"),
                      ("a key twice", base + "    findings:\n      - {scenario: s, evidence: e}\n    findings: []\n"),
                      ("an alias bomb", bomb + base)):
        path = WORK / f"i29-ledger-{tag.replace(' ', '-')}.yaml"
        path.write_text(text)
        record(f"11 ledger: {tag}", _timed([CLI, "check", f"--ledger={path}"], timeout=120))
    fifo = WORK / "i29-fifo"
    os.mkfifo(fifo)
    keep = os.open(fifo, os.O_RDWR)                      # a writer that never writes
    try:
        for option in ("--ledger", "--article"):
            for value in (str(fifo), "/dev/zero"):
                reports = copy(f"{option[2:]}-{Path(value).name}")
                before = _everything(reports)
                try:
                    proc = suite([f"{option}={value}", f"--reports-dir={reports}", *SMALL], timeout=120)
                except subprocess.TimeoutExpired:
                    proc = subprocess.CompletedProcess([], -1, "", "HANG: no answer in 120 s")
                _record_kept(f"11 pytest {option}={value.replace(str(WORK), '')}", proc, reports, before)
    finally:
        os.close(keep)
    # 12. hostile feature files (in a copy of the suite) and the reports folder filling up mid-run
    for tag, change in (("a mistyped keyword", ("symptom.feature", "    Given ", "    Gvien ")),
                        ("an unclosed docstring", ("symptom.feature", None, b'\n  Scenario: u\n    Given x\n      """\n')),
                        ("non-UTF-8 bytes", ("symptom.feature", None, b"\n# \xff\xfe\n")),
                        ("a folder named x.feature", ("extra.feature", None, None)),
                        ("a mistyped marker tag", ("symptom.feature", "@symptom", "@symptm"))):
        tree = WORK / f"i29-tree-{tag.replace(' ', '-')}"
        for name in ("keychain_claims", "steps", "fixtures", "features", "articles"):
            shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("conftest.py", "pytest.ini"):
            shutil.copy(ROOT / name, tree / name)
        name, old, new = change
        path = tree / "features" / name
        if old:
            path.write_text(path.read_text().replace(old, new, 1))
        elif new:
            path.write_bytes(path.read_bytes() + new)
        else:
            path.mkdir()
        reports = copy(f"feature-{tag.replace(' ', '-')}")
        before = _everything(reports)
        proc = _timed([PY, "-m", "pytest", "-p", "no:randomly", "--backend=sim", f"--reports-dir={reports}"],
                      env={**ENV, "PYTHONPATH": str(tree)}, timeout=600, cwd=tree)
        _record_kept(f"12 feature file: {tag}", proc, reports, before)
    if _root_tmpfs():
        small = WORK / "i29-full"
        small.mkdir()
        script = (f'mount -t tmpfs -o size=$(( $(du -sk "{complete}" | cut -f1) + 1024 ))k tmpfs "{small}" && cp -a "{complete}/." "{small}/" && '
                  f'free=$(df -k --output=avail "{small}" | tail -1) && dd if=/dev/zero of="{small}/fill" bs=1k '
                  f'count=$((free - 40)) 2>/dev/null; (cd "{small}" && cat claims.json outcomes.json allure-results/* | md5sum); '
                  f'"{PY}" -m pytest -p no:randomly --backend=sim --reports-dir="{small}"; echo "rc=$?"; '
                  f'(cd "{small}" && cat claims.json outcomes.json allure-results/* | md5sum); umount "{small}"')
        proc = _timed(["unshare", "-m", "sh", "-c", script], timeout=900)
        sums = [l for l in proc.stdout.splitlines() if l.endswith("  -")]
        rc = next((int(l[3:]) for l in proc.stdout.splitlines() if l.startswith("rc=")), -1)
        lost = len(sums) != 2 or sums[0] != sums[1]
        text = proc.stdout + proc.stderr
        what = ("DATA LOST" if lost else f"{text.count('INTERNALERROR')} INTERNALERROR lines" if "INTERNALERROR" in text
                else f"one line (rc {rc})" if len({l for l in text.splitlines() if l.startswith('could not write')}) == 1
                else f"rc {rc}")
        ROWS.append(("12 the reports folder filling up mid-run", what,
                     next((l for l in text.splitlines() if l.startswith("could not write")), "")))
        print(ROWS[-1], flush=True)
    # 13. a 40 KB and a 120 KB argument to a simulated call (redact() on every call)
    for size in (40_000, 120_000):
        start = time.monotonic()
        proc = _timed([SIM, "add-generic-password", "-a", "a" * size, "-s", "big", "-w", "x", str(kc)], simenv, timeout=120)
        ROWS.append((f"13 keychain-sim with a {size // 1000} KB argument", f"{classify(proc)} in {time.monotonic() - start:.1f} s",
                     first_error(proc)))
        print(ROWS[-1], flush=True)
    # 14. a versions list stamped 400 days ahead; make in a path with spaces; a CRLF article
    cache = WORK / "i29-cache"
    folder = cache / "@anthropic-ai+claude-code"
    folder.mkdir(parents=True)
    (folder / "versions.json").write_text(json.dumps({"versions": ["0.0.1"], "dist-tags": {"latest": "0.0.1"}}))
    ahead = time.time() + 400 * 86400
    os.utime(folder / "versions.json", (ahead, ahead))
    proc = _timed([CLI, "versions", "last:1"], {**ENV, "KEYCHAIN_CLAIMS_CACHE": str(cache)}, timeout=120)
    ROWS.append(("14 versions list stamped 400 days ahead", "PINNED (0.0.1)" if proc.stdout.strip() == "0.0.1"
                 else classify(proc), proc.stdout.strip()[:60] or first_error(proc)))
    print(ROWS[-1], flush=True)
    spaced = WORK / "with space" / "kc"
    spaced.mkdir(parents=True)
    shutil.copy(ROOT / "Makefile", spaced / "Makefile")
    proc = _timed(["make", "-n", "clean"], cwd=spaced)
    outside = sorted(p.name for p in (WORK / "with space").iterdir() if p.name != "kc") + \
        sorted(p.name for p in WORK.iterdir() if p.name == "with")
    ROWS.append(("14 make in a path with spaces", f"WROTE OUTSIDE {outside}" if outside else classify(proc), ""))
    print(ROWS[-1], flush=True)
    crlf = WORK / "i29-crlf" / "claude-code-keychain-acl-invalidation.md"
    crlf.parent.mkdir()
    article = ROOT / "articles" / crlf.name
    crlf.write_bytes(article.read_bytes().replace(b"\n", b"\r\n"))
    shutil.copy(article.with_suffix(".claims.yaml"), crlf.with_suffix(".claims.yaml"))
    reports = WORK / "i29-crlf-reports"
    proc = suite([f"--article={crlf}", f"--reports-dir={reports}", *SMALL])
    import hashlib
    recorded = json.loads((reports / "claims.partial.json").read_text()).get("article_sha256", "") \
        if (reports / "claims.partial.json").exists() else ""
    ROWS.append(("14 a CRLF article", "ok (its own bytes' sha256)" if recorded == hashlib.sha256(crlf.read_bytes()).hexdigest()
                 else f"WRONG sha256 recorded ({recorded[:12]})", first_error(proc)))
    print(ROWS[-1], flush=True)


def _table() -> int:
    print()
    print("| input | what happened | first line |")
    print("|---|---|---|")
    for name, what, line in ROWS:
        print(f"| {name} | {what} | {line.replace('|', '/')[:100]} |")
    return 0


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "tmp").mkdir(parents=True)
    a_dir, a_file = WORK / "a-dir", WORK / "a-file"
    a_dir.mkdir()
    a_file.write_text("not what you expect\n")
    values = {"dir": str(a_dir), "file": str(a_file), "/proc/x": "/proc/x", "ro": "/sys/kernel"}
    complete = WORK / "complete"
    proc = suite([f"--reports-dir={complete}", f"--alluredir={complete / 'allure-results'}"], timeout=600)
    assert (complete / "claims.json").exists(), proc.stdout[-2000:]

    def guarded_copy(tag):
        target = WORK / f"reports-{tag}"
        shutil.copytree(complete, target)
        return target

    only_signals = os.environ.get("HOSTILE_ONLY") == "signals"
    if os.environ.get("HOSTILE_ONLY") == "evidence":      # issue 29's points 1-6 only (evidence_inputs)
        evidence_inputs()
        return _table()
    if os.environ.get("HOSTILE_ONLY") == "issue29-lost":
        nothing_lost_one_line(complete)
        return _table()
    # 1. every path option of the claims run
    for option in ([] if only_signals else  ("--article", "--ledger", "--record-transcripts", "--reports-dir", "--alluredir")):
        for kind, value in values.items():
            reports = guarded_copy(f"{option[2:]}-{kind.replace('/', '')}")
            before = snapshot(reports)
            args = [f"{option}={value}", *SMALL]
            if option != "--reports-dir":
                args.append(f"--reports-dir={reports}")
            record(f"pytest {option}={kind}", suite(args), reports, before)
    # 2. environment variables of the claims run and the simulator
    if only_signals:
        values = {}
    for kind, value in values.items():
        reports = guarded_copy(f"sandboxes-{kind.replace('/', '')}")
        before = snapshot(reports)
        record(f"KEYCHAIN_CLAIMS_SANDBOXES={kind}", suite([f"--reports-dir={reports}", *SMALL],
                                                          env={"KEYCHAIN_CLAIMS_SANDBOXES": value}), reports, before)
    for kind, value in values.items():
        home = WORK / f"home-{kind.replace('/', '')}"
        home.mkdir()
        proc = subprocess.run([SIM, "list-keychains"], capture_output=True, text=True,
                              env={**ENV, "HOME": str(home), "KEYCHAIN_SIM_STATE": value}, timeout=60)
        record(f"keychain-sim list-keychains, KEYCHAIN_SIM_STATE={kind}", proc)
        proc = subprocess.run([SIM, "create-keychain", "-p", "pw", "k.keychain"], capture_output=True, text=True,
                              env={**ENV, "HOME": value, "KEYCHAIN_SIM_STATE": str(home / "state")}, timeout=60)
        record(f"keychain-sim create-keychain, HOME={kind}", proc)
    # 3. keychain-claims subcommands' path arguments
    run_dir = WORK / "complete"
    for kind, value in values.items():
        for name, argv in (("report --results", ["report", "--results", value, "--output", str(WORK / f"o-{kind[-3:]}")]),
                           ("report --output", ["report", "--results", str(run_dir / "allure-results"), "--output", value,
                                                "--claims", str(run_dir / "claims.json")]),
                           ("report --claims", ["report", "--results", str(run_dir / "allure-results"),
                                                "--output", str(WORK / f"o2-{kind[-3:]}"), "--claims", value]),
                           ("report --history", ["report", "--results", str(run_dir / "allure-results"),
                                                 "--output", str(WORK / f"o3-{kind[-3:]}"), "--history", value]),
                           ("merge DIR", ["merge", value, "--output", str(WORK / f"m-{kind[-3:]}"), "--no-html"]),
                           ("merge --output", ["merge", str(run_dir), "--output", value, "--no-html"]),
                           ("changes DIR", ["changes", value, "--from", "1", "--to", "2"]),
                           ("check --article", ["check", f"--article={value}"]),
                           ("check --ledger", ["check", f"--ledger={value}"]),
                           ("fidelity --dir", ["fidelity", "--dir", value])):
            try:
                proc = subprocess.run([CLI, *argv], capture_output=True, text=True, env=ENV, timeout=180, cwd=ROOT)
            except subprocess.TimeoutExpired:
                proc = subprocess.CompletedProcess(argv, -1, "", "HANG: no answer in 180 s")
            record(f"keychain-claims {name}={kind}", proc)
    # 4. damaged files of other shapes
    for _ in [] if only_signals else [1]:
        damaged(run_dir)
    # 4b. issue 29, points 7-14 (its own block above)
    if not only_signals:
        nothing_lost_one_line(complete)
    # 4c. issue 29, points 1-6 and their held-out inputs (their own block above)
    if not only_signals:
        evidence_inputs()
    # 5. signals not used while building: SIGTERM and SIGHUP mid-run, against a complete table
    for sig in (signal.SIGTERM, signal.SIGHUP):
        reports = guarded_copy(f"sig{int(sig)}")
        before = snapshot(reports)
        proc = subprocess.Popen([PY, "-m", "pytest", "-p", "no:randomly", "--backend=sim", f"--reports-dir={reports}"],
                                cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list(reports.glob(".allure-results.staging-*/*-result.json"))) < 3:
            time.sleep(0.2)                 # three scenarios of this run have finished (in its staging folder)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        partial = (reports / "claims.partial.json").exists()
        record(f"{sig.name} mid-run (partial table written: {partial})", done, reports, before)
    return _table()


if __name__ == "__main__":
    sys.exit(main())
