"""How releases are driven: a release the harness cannot exercise is "not checkable" (never
"fails"), every write form is recognised and named, and a release sees only the sandbox's /tmp.
Stub releases (a cli.js run like a JavaScript release) stand in for real ones."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from keychain_claims.backends.sim import SimBackend
from keychain_claims.claims.verdicts import first_sentence
from keychain_claims.harness.sandbox import Sandbox
from keychain_claims.releases import api, fingerprints, registry, runner, standin
from keychain_claims.releases.cache import cache_dir
from keychain_claims.releases.manifests import LAYOUT, RUNTIME_FILE
from keychain_claims.releases.npm import DARWIN, PACKAGE
from keychain_claims.releases.release import Release, runtime_binary
from steps.refresh_steps import WRITE_FORMS, masked, write_form

NEVER_CALLS_SECURITY = textwrap.dedent('''\
    // a stub "release" that starts, answers, and never asks `security` for anything{auth}
    const args = process.argv.slice(2);
    if (args[0] === "auth") {{ console.log(JSON.stringify({{loggedIn: false}})); process.exit(1); }}
    if (args[0] === "-p") {{ console.log("pong"); process.exit(0); }}
    process.exit(2);
    ''')
AUTH_IN_CODE = '\n    // program.command("auth") ... .command("status") ... .command("logout")'


def _stub(tmp_path: Path, auth: bool) -> Path:
    root = tmp_path / ("with-auth" if auth else "no-auth")
    root.mkdir()
    (root / "package.json").write_text(json.dumps({"name": "@anthropic-ai/claude-code", "version": "0.0.1"}))
    (root / "cli.js").write_text(NEVER_CALLS_SECURITY.format(auth=AUTH_IN_CODE if auth else ""))
    return root


def test_the_read_uses_auth_status_only_where_the_code_defines_it(tmp_path):
    assert fingerprints.read(_stub(tmp_path, True) / "cli.js")["subcommands"].value == "auth status, auth logout"
    assert fingerprints.read(_stub(tmp_path, False) / "cli.js")["subcommands"].status == "not found"


@pytest.mark.suite
@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")
@pytest.mark.parametrize("auth", [True, False], ids=["auth-status", "model-request"])
def test_a_release_that_never_reaches_the_keychain_is_not_checkable_not_failed(run_suite, tmp_path, auth):
    """The read scenario on a release that never calls `security`: skipped with the reason, and the
    claim's release cell says not-checkable (with what ran), never fails."""
    root = _stub(tmp_path, auth)
    result = run_suite("--backend=sim", "-m", "release", "-k", "a_read_by_the_release", f"--claude-code={root}", "-rs")
    summary = [l for l in result.stdout.splitlines() if " deselected" in l or " skipped" in l][-1]
    assert "failed" not in summary and "1 skipped" in summary, result.stdout[-3000:]
    reached = ("never reached the keychain", "did not get going")
    assert any(r in result.stdout for r in reached), result.stdout[-3000:]
    # a -k selection is a partial run: it writes its own matrix (release-matrix.partial.json)
    matrix = json.loads((tmp_path / "reports" / "release-matrix.partial.json").read_text())
    cells = {c["claim"]: c for c in matrix["cells"]}
    for claim in ("CAU-READER", "CAU-ITEM"):
        assert cells[claim]["verdict"] == "not-checkable", cells[claim]
        assert cells[claim]["summary"].startswith("not-checkable — 0 of 1 scenario ran; 1 not checkable: "), cells[claim]
        assert any(r in cells[claim]["summary"] for r in reached), cells[claim]["summary"]


HANGS_AFTER_AN_ERROR = textwrap.dedent('''\
    // a stub "release" like 0.2.19 without a terminal: its first-run screen throws, it never exits
    console.error("Error: Raw mode is not supported on the current process.stdin, which Ink uses as input stream by default.");
    console.error("    at handleSetRawMode (file:///cli.mjs:391:2045)");
    console.error("    at process.processImmediate (node:internal/timers:483:21)");
    setInterval(() => {}, 1000);
    ''')


@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")
def test_a_release_stopped_before_it_got_going_is_not_checkable_with_what_it_said(tmp_path):
    """A release that never calls `security` nor the stand-in within the deadline is stopped: not
    checkable, and the reason quotes its error message (not its stack's last frame); the output
    goes with the exception for the report."""
    root = tmp_path / "hangs"
    root.mkdir()
    (root / "package.json").write_text(json.dumps({"name": "@anthropic-ai/claude-code", "version": "0.0.2"}))
    (root / "cli.js").write_text(HANGS_AFTER_AN_ERROR)
    release = registry.load(str(root))
    with Sandbox(SimBackend()) as box:
        box.prepare()
        with pytest.raises(runner.NotExercised) as caught:
            runner.run(release, box, "-p", "ping", timeout=3)
    reason = str(caught.value)
    assert "did not get going within 3 s" in reason, reason
    assert "saying: Error: Raw mode is not supported" in reason and "processImmediate" not in reason, reason
    # the history's legend keeps a reason's first sentence: what the release said is in it
    assert "Raw mode is not supported" in first_sentence(f"not checkable: {reason}"), first_sentence(reason)
    assert "at handleSetRawMode" in caught.value.output
    assert caught.value.standin == runner.standin_folder(box)      # what reached the stand-in goes to the report
    # the report shows it as it shows a run that exited: how it ended, where it ran, then its output
    head = caught.value.output.splitlines()[0]
    assert head.startswith("stopped after 3 s (") and "isolation; /tmp: " in head, head
    exited = runner.Run(["-p"], 0, "pong", "", runner.isolation_for(box.session.backend)).transcript()
    assert exited.split(" (", 1)[1].split("\n")[0] == head.split(" (", 1)[1], (exited, head)


@pytest.mark.parametrize("argv, spawned, form", [
    (["add-generic-password", "-U", "-a", "u", "-s", "S", "-X", "7b7d"], ["-i"], "stdin -X"),
    (["add-generic-password", "-U", "-a", "u", "-s", "S", "-X", "7b7d"], ["add-generic-password"], "argv -X"),
    (["add-generic-password", "-U", "-a", "u", "-s", "S", "-w", '{"claudeAiOauth":{}}'], ["add-generic-password"],
     "argv -w"),
])
def test_every_write_form_is_named(argv, spawned, form):
    assert write_form(argv, spawned) == form and form in WRITE_FORMS


def test_a_write_in_argv_is_masked_in_what_the_step_reports():
    token = "sk-ant-oat01-KCCANARY" + secrets.token_hex(8)
    shown = masked(["add-generic-password", "-U", "-a", "u", "-s", "S", "-w", json.dumps({"accessToken": token})])
    assert token not in shown and "KCCANARY" not in shown and "-w <secret, " in shown


def _ask_stand_in(folder: Path, method: str, path: str, body: str | None, headers: dict) -> tuple[int, bytes]:
    """One request to the Messages stand-in serving `folder`: its status and body."""
    import http.client
    server, port = api.serve(folder)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(method, path, body, headers)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        server.shutdown()
        server.server_close()


def test_the_stand_in_notes_which_credential_a_request_carried_never_the_credential(tmp_path):
    _ask_stand_in(tmp_path, "POST", "/v1/messages", json.dumps({"model": "m"}), {"authorization": "Bearer tok-KCCANARY-1"})
    row = standin.requests(tmp_path)[0]
    assert row["credential"] == api.credential_digest("tok-KCCANARY-1") and row["credential_kind"] == "bearer"
    assert "KCCANARY" not in (tmp_path / api.REQUESTS).read_text()


def test_the_stand_in_answers_the_client_settings_as_an_object_releases_read_fields_of(tmp_path):
    """2.0.53 keeps `response.data.client_data` and reads `.effortLevel` off it unguarded: the
    catch-all answer (no `client_data`) made its query throw, so its refresh never ran."""
    status, body = _ask_stand_in(tmp_path, "GET", "/api/oauth/claude_cli/client_data", None,
                                 {"authorization": "Bearer tok-KCCANARY-2"})
    assert status == 200 and isinstance(json.loads(body)["client_data"], dict)
    assert standin.requests(tmp_path)[0]["path"] == "/api/oauth/claude_cli/client_data"


# --------------------------------------------------------------------------- the host's /tmp
WRITES_TMP = textwrap.dedent('''\
    #!{python}
    """Does to /tmp what releases do, whatever TMPDIR says: an fswatch probe below /tmp/claude-<uid>/,
    a look for /tmp/CLAUDE.md, a socket path /tmp/cc-socks."""
    import os, sys
    probe = f"/tmp/claude-{{os.getuid()}}/fswatch-probe-{nonce}"
    os.makedirs(probe, exist_ok=True)
    open("/tmp/cc-socks-{nonce}", "w").close()
    print(os.path.exists("/tmp/CLAUDE.md"), probe)
    ''')


def _host_tmp(nonce: str) -> list[str]:
    """Entries of the host's /tmp a release makes (claude-*, cc-socks*) that carry this test's nonce."""
    found = [str(p) for p in Path("/tmp").glob(f"cc-socks-{nonce}")]
    for folder in Path("/tmp").glob("claude-*"):
        found += [str(p) for p in folder.glob(f"*{nonce}*")]
    return found


def test_a_release_sees_the_sandbox_tmp_not_the_hosts(tmp_path):
    if runner.private_tmp_unavailable():
        pytest.skip(f"no private /tmp here: {runner.private_tmp_unavailable()} (README: what is not confined)")
    nonce = secrets.token_hex(6)
    root = tmp_path / "release"
    root.mkdir()
    (root / "claude").write_text(WRITES_TMP.format(python=sys.executable, nonce=nonce))
    (root / "claude").chmod(0o755)
    before = sorted(p.name for p in Path("/tmp").iterdir())
    try:
        with Sandbox(SimBackend()) as box:
            box.prepare()
            run = runner.run(Release("0.0.0", root, "installed"), box, "-p", "ping")
            assert run.status == 0, run.stderr
            inside = list(Path(box.tmp).glob(f"claude-*/fswatch-probe-{nonce}"))
            assert inside and (Path(box.tmp) / f"cc-socks-{nonce}").exists()
    finally:
        leaked = _host_tmp(nonce)
        for path in leaked:              # only what this test made
            os.rmdir(path) if os.path.isdir(path) else os.unlink(path)
    assert leaked == [], f"the release wrote to the host's /tmp: {leaked}"
    new = set(p.name for p in Path("/tmp").iterdir()) - set(before)
    assert not {n for n in new if n.startswith("claude-") or n.startswith("cc-socks")}, new


@pytest.mark.release
@pytest.mark.skipif(registry.newest_cached() is None, reason="no Claude Code release is cached here")
def test_a_cached_release_writes_its_tmp_files_into_the_sandbox(tmp_path):
    """A real release, `-p ping`: the fswatch probe it makes below /tmp/claude-<uid>/ whatever TMPDIR
    says is in the sandbox's tmp afterwards, and no probe it left is in the host's /tmp.  (Other
    processes on this host may make probes in the host's /tmp meanwhile: only this run's are compared.)"""
    if runner.private_tmp_unavailable():
        pytest.skip(f"no private /tmp here: {runner.private_tmp_unavailable()}")
    release = registry.load(registry.newest_cached())
    if release.runnable_here:
        pytest.skip(release.runnable_here)
    with Sandbox(SimBackend()) as box:
        box.prepare()
        run = runner.run(release, box, "-p", "ping", env={"CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-KCCANARY-tmp"})
        assert run.status == 0, run
        made = sorted(p.name for p in Path(box.tmp).iterdir() if p.name.startswith(("claude-", "cc-socks")))
        inside = sorted(p.name for p in Path(box.tmp).glob("claude-*/fswatch-probe-*"))
    assert made, f"{release.version} made no claude-<uid>/ or cc-socks below the sandbox's /tmp (its /tmp was not the sandbox's)"
    host = {p.name for p in Path("/tmp").glob("claude-*/fswatch-probe-*")}
    assert not host & set(inside), f"the release's probes are also in the host's /tmp: {sorted(host & set(inside))}"


# --------------------------------------------------------------------------- how a native release starts
def _native(tmp_path: Path, host_script: str) -> Release:
    graph = tmp_path / "graph"
    graph.mkdir()
    (graph / "cli.js").write_text("// the darwin entry\n")
    preload = graph / "host-preload.mjs"
    preload.write_text(f'const hostEntry = "/$bunfs/root/cli";\nconst darwinEntry = {json.dumps(str(graph / "cli.js"))};\n')
    host = tmp_path / "host"
    host.mkdir()
    (host / "claude").write_text(host_script.format(python=sys.executable))
    (host / "claude").chmod(0o755)
    (host / RUNTIME_FILE).write_text(json.dumps({"layout": LAYOUT, "binary": "claude"}))
    return Release("9.9.9", tmp_path, "native", host_root=host, preload=preload,
                            runtime_kind="claude", entry=graph / "cli.js")


RUNTIME = '#!{python}\nimport sys\n{resolves}print("9.9.9 (Claude Code)")\n'


@pytest.mark.parametrize("resolves", [True, False], ids=["asks-the-resolver", "evaluates-its-entry"])
def test_a_runtime_that_does_not_ask_the_resolver_gets_the_darwin_entry_imported(tmp_path, resolves):
    """The probe's answer, not the version, decides: a runtime whose entry never reaches the preload's
    resolver (Bun 1.4.0 of 2.1.229-2.1.322) gets darwin-entry.mjs with the written-out darwin entry."""
    line = f'print({runner.ENTRY_RESOLVED!r}, file=sys.stderr)\n' if resolves else ""
    release = _native(tmp_path, RUNTIME.replace("{resolves}", line))
    with Sandbox(SimBackend()) as box:
        box.prepare()
        env, why = runner.how_started(release, box)
    assert why is None
    if resolves:
        assert env == {}
    else:
        assert str(runner.DARWIN_ENTRY) in env["BUN_OPTIONS"] and str(release.preload) in env["BUN_OPTIONS"]
        assert env["KEYCHAIN_CLAIMS_DARWIN_ENTRY"] == str(tmp_path / "graph" / "cli.js")


def test_a_runtime_that_cannot_be_probed_leaves_the_release_not_checkable(tmp_path):
    release = _native(tmp_path, "#!/bin/sh\nexit 3\n")
    with Sandbox(SimBackend()) as box:
        box.prepare()
        env, why = runner.how_started(release, box)
        assert env == {} and "cannot be started" in why
        with pytest.raises(runner.NotExercised):
            runner.run(release, box, "auth", "status")


def _cached_native(version: str):
    folder = cache_dir() / f"{PACKAGE}-{DARWIN}".replace("/", "+") / version / "graph"
    return registry.load(version) if (folder / ".complete").exists() else None


@pytest.mark.release
@pytest.mark.parametrize("version, resolves", [("2.1.240", False), ("2.1.332", True)])
def test_the_probe_tells_the_runtimes_of_cached_releases_apart(version, resolves, tmp_path):
    """Seen on this machine's cache (skipped where the release is not cached): 2.1.240's Bun evaluates
    its entry without the resolver, 2.1.332's asks it."""
    release = _cached_native(version)
    if release is None or release.runnable_here:
        pytest.skip(f"{version} is not cached here")
    assert runner.entry_resolved(str(runtime_binary(release.host_root)), str(tmp_path)) is resolves


def test_write_exit_status_tells_a_helper_that_swallows_failures_from_one_that_throws():
    store = ('update(B){try{let D=JSON.stringify(B),I=`security add-generic-password -U -a $USER -s "S" -w "${D}"`;'
             'return H(I),{success:!0}}catch(Q){return{success:!1}}}')
    swallows = 'function H(A,B){try{let F=x(A,{shell:!0,reject:!1});return F.stdout||null}catch{return null}}' + store
    throws = 'function H(A,B){let G=execSync(A,{stdio:["ignore","pipe","pipe"]});return G.toString()}' + store
    assert fingerprints.from_text(swallows)["write-exit-status"].value.startswith("ignored")
    assert fingerprints.from_text(throws)["write-exit-status"].value.startswith("checked")


def test_a_release_without_the_oauth_variable_in_its_code_says_so():
    assert fingerprints.from_text("let t=process.env.ANTHROPIC_API_KEY;")["oauth-env-named"].status == "not found"
    assert fingerprints.from_text("let t=process.env.CLAUDE_CODE_OAUTH_TOKEN;")["oauth-env-named"].status == "found"
