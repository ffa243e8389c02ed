"""Run a release in the sandbox: temp HOME, our `security` first on PATH, the autoupdater and
nonessential traffic off, the Messages and OAuth stand-ins on loopback (standin.py), and one of
two isolations:

    netns     `unshare -n`: no network but loopback (Linux; netns.py starts the stand-ins inside)
    loopback  no namespace: the release is pointed at the loopback stand-ins and the HTTPS proxy;
              on macOS also `sandbox-exec` with a profile that denies the network except loopback

The backend chooses with `release_isolation` ("auto" = netns when it works here, else loopback)."""
from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from keychain_claims import PROJECT_ROOT
from keychain_claims.redact import redact
from keychain_claims.releases import standin
from keychain_claims.releases.release import Release
from keychain_claims.errors import ReleaseProblem

PRELOAD = Path(__file__).with_name("darwin-preload.cjs")
ENTRY_PROBE = Path(__file__).with_name("entry-probe.mjs")       # does the host runtime resolve its entry?
DARWIN_ENTRY = Path(__file__).with_name("darwin-entry.mjs")     # starts the darwin entry itself
ENTRY_RESOLVED = "keychain-claims: entry resolved through the preload"
STANDIN_DIR = "release-standin"          # in the sandbox root: CA, certificate, requests seen
SPAWNED = "security-processes"           # in it: the first argument of every `security` the release started
LOOPBACK_ONLY = """(version 1)
(allow default)
(deny network-outbound)
(allow network-outbound (remote ip "localhost:*"))
(allow network-outbound (remote unix-socket))
"""
# macOS: the host's /tmp is neither read nor written (the sandbox may itself live below it; the
# last matching rule wins)
NO_HOST_TMP = """(deny file-read* file-write* (subpath "/private/tmp") (subpath "/tmp"))
(allow file-read* file-write* (subpath {sandbox}))
"""
KEEP_READABLE = """(allow file-read* (subpath {path}))
"""


def macos_profile(sandbox_root: Path, keep: Sequence[Path] = ()) -> str:
    """The sandbox-exec profile of a release run on macOS: loopback only, and no host /tmp but the
    sandbox and, readable, what the release needs from below it (`kept_paths`: a checkout or cache
    that lives there)."""
    root = json.dumps(str(Path(sandbox_root).resolve()))
    return LOOPBACK_ONLY + NO_HOST_TMP.format(sandbox=root) + "".join(
        KEEP_READABLE.format(path=json.dumps(str(p))) for p in keep)


class RunError(ReleaseProblem):
    """One line: why the release could not be run (the stand-in did not start, ...)."""


class NotExercised(RunError):
    """One line: the harness cannot make this release take the code path under test (its darwin
    entry cannot be started here, ...): the scenario is not checkable, never failed.  `output` is
    what the release printed before it was stopped, if it was started, and `standin` the stand-in's
    folder of that run (what reached it), both for the report."""

    def __init__(self, message: str, output: str = "", standin: Path | None = None) -> None:
        super().__init__(message)
        self.output = output
        self.standin = standin


ERROR_LINE = re.compile(r"^\s*(?:[A-Z]\w*)?Error\b.*")    # an exception's message, never its stack's "at ..."


def _last_line(stdout: str, stderr: str) -> str:
    """What the release said last before it was stopped, cut to 160 characters: its last error
    message (a stack trace's first line, not its last frame), else its last line (stderr first),
    else "with no output".  Said after a comma, never after a semicolon: the history's legend keeps a
    reason's first sentence (verdicts.first_sentence), and this is the part that tells releases apart."""
    for text in (stderr, stdout):
        lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
        errors = [line for line in lines if ERROR_LINE.match(line)]
        if errors or lines:
            return f"saying: {(errors or lines)[-1][:160]}"
    return "with no output"


@functools.lru_cache(maxsize=1)
def netns_unavailable() -> str | None:
    """None when `unshare -n` works here, else the reason it does not."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "unshare or ip is not installed"
    proc = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"unshare -n is not allowed here ({proc.stderr.strip()[:80]})"
    return None


@functools.lru_cache(maxsize=1)
def private_tmp_unavailable() -> str | None:
    """None when a release can be given a private /tmp here (a mount namespace whose /tmp is the
    sandbox's tmp, bound over it), else the reason it cannot."""
    if sys.platform != "linux":
        return "no mount namespaces on this system"
    if not shutil.which("unshare") or not shutil.which("mount"):
        return "unshare or mount is not installed"
    probe = _private_tmp(["true"], "/")
    proc = subprocess.run(probe, capture_output=True, text=True)
    if proc.returncode != 0:
        return f"a private mount namespace is not allowed here ({(proc.stderr.strip() or f'exit {proc.returncode}')[:80]})"
    return None


# the private /tmp: the sandbox's tmp bound over /tmp -- from a shell whose working directory is the
# host's /tmp, so the folders the release needs that live below it (a checkout, cache or sandbox made
# by `mktemp -d`) can be bound back in at their own paths ("$1"…: paths relative to /tmp), and only those
BIND_TMP = ('over=$1; cd "$over" && mount --bind "$0" "$over" || exit 125; n=$2; shift 2; '
            'while [ "$n" -gt 0 ]; do mkdir -p "$over/$1" && mount --no-canonicalize --bind "./$1" "$over/$1" || exit 125; '
            'n=$((n - 1)); shift; done; cd / && exec "$@"')


def host_tmp() -> Path:
    return Path("/tmp").resolve()


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def kept_paths(cmd: list[str], env: dict[str, str], over: Path | None = None) -> list[Path]:
    """The folders below the host's /tmp that a release run needs: this checkout (the preloads, the
    shims' code), the Python the shims run on, and every absolute path its command line and
    environment name (the cache entry, the sandbox, TMPDIR, PATH) -- the outermost of each, once."""
    words = [PROJECT_ROOT, Path(sys.prefix), Path(sys.executable).parent, *map(Path, cmd)]
    for value in env.values():
        for word in re.split(r"[:=\s]", value):
            if word.startswith("/"):
                words.append(Path(word))
    tmp, found = over or host_tmp(), []
    for word in words:
        if not Path(word).is_absolute():
            continue
        path = Path(os.path.realpath(word))
        path = path if path.is_dir() else path.parent
        if _under(path, tmp) and path != tmp and path.is_dir():
            found.append(path)
    outermost = [p for p in set(found) if not any(o != p and _under(p, o) for o in found)]
    return sorted(outermost)


def _private_tmp(cmd: list[str], tmp: str, keep: Sequence[Path] = (), over: Path | None = None) -> list[str]:
    """`cmd` in a mount namespace where `tmp` is bound over `over` (the host's /tmp), with `keep`
    (folders below `over`) bound back in at their own paths."""
    over = over or host_tmp()
    rel = [str(p.relative_to(over)) for p in keep]
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", BIND_TMP, tmp, str(over), str(len(rel)), *rel, *cmd]


def _confined(cmd: list[str], tmp: str, env: dict[str, str] | None = None) -> list[str]:
    """`cmd` seeing `tmp` as its /tmp (Claude Code writes /tmp/claude-<uid>/, looks for /tmp/CLAUDE.md,
    opens /tmp/cc-socks whatever TMPDIR says), with what it needs from the host's /tmp bound back in
    at its own paths (`kept_paths`), where this host allows it; else `cmd` as it is."""
    if private_tmp_unavailable():
        return cmd
    return _private_tmp(cmd, tmp, kept_paths(cmd, env or {}))


def tmp_confinement() -> str:
    """How a release is kept off the host's /tmp here, in words."""
    why = private_tmp_unavailable()
    if why is None:
        return "private /tmp (mount namespace, the sandbox's tmp bound over /tmp)"
    if sys.platform == "darwin":
        return "sandbox-exec denies writes outside the sandbox and the cache"
    return f"none: {why}"


def isolation_for(backend) -> str:
    """netns or loopback, as the backend asks (`release_isolation`: auto, netns, loopback)."""
    wanted = backend.release_isolation
    if wanted == "auto":
        return "loopback" if netns_unavailable() else "netns"
    return wanted


def isolation(backend=None) -> str | None:
    """None when a release can be isolated here with the backend's choice, else why not."""
    if isolation_for(backend) == "netns":
        why = netns_unavailable()
        return f"{why}: the release cannot be cut off from the network; choose the loopback isolation" if why else None
    return None


@dataclass
class Run:
    argv: list[str]
    status: int
    stdout: str
    stderr: str
    isolation: str = ""
    standin: Path | None = None          # the stand-in's folder: requests.jsonl, connects.jsonl
    started: str = ""                    # native: how its darwin entry was started

    def __repr__(self) -> str:
        return redact(f"Run({self.argv!r}, status={self.status})")

    def transcript(self) -> str:
        """The run as the report shows it (one format, however the run ended)."""
        return transcript(f"exit {self.status}", self.isolation, self.started, self.stdout, self.stderr)


def transcript(ended: str, isolation: str, started: str, stdout: str, stderr: str) -> str:
    """What a release run printed, for the report: how it ended and how it was kept in (its
    isolation, /tmp, how a native release's darwin entry was started), then stdout and stderr.
    A run that exited and one stopped at its deadline read alike."""
    return (f"{ended} ({isolation} isolation; /tmp: {tmp_confinement()}{'; ' + started if started else ''})\n"
            f"--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}")


def command(release: Release) -> tuple[list[str], dict[str, str]]:
    """argv and environment that start the release on its macOS code path on this host: a
    JavaScript release under node with the darwin preload; a native release's darwin graph on the
    runtime its cache entry chose -- embedded in a copy of that runtime (its entry is the darwin
    one, its bytecode beside it), or, where the runtime cannot take it, written out: the public
    `bun` runs the entry file itself, an Anthropic runtime starts it in place of its own through
    BUN_OPTIONS=--preload.  The release's own binaries are never modified."""
    if release.form == "js":
        node = shutil.which("node") or "node"
        return [node, "-r", str(PRELOAD), str(release.bundle)], {}
    if release.form == "native" and release.embedded is not None:
        return [str(release.embedded)], {}
    if release.form == "native" and release.runtime_kind == "bun" and release.entry is not None:
        return [str(release.host_binary), str(release.entry)], {}
    if release.form == "native" and release.preload is not None:
        return [str(release.host_binary)], {"BUN_OPTIONS": f"--preload={release.preload}"}
    return [str(release.host_binary)], {}


_RESOLVED: dict[str, bool] = {}


def entry_resolved(host_binary: str, home: str) -> bool | None:
    """Whether this host runtime passes its own entry point through a preload's resolver (Bun.plugin
    onResolve), which the darwin redirect of a native release relies on.  Observed, not assumed: the
    runtime runs `--version` with entry-probe.mjs, which says so on stderr.  None: the probe did not run.

    Seen here: Bun 1.4.0 with an entry named `cli` (the releases whose graph is one `cli.js`, e.g.
    2.1.240) evaluates that entry without asking; the stock entry (Linux code path: plaintext file,
    no keychain) then runs instead of the darwin one."""
    if host_binary in _RESOLVED:
        return _RESOLVED[host_binary]
    env = {"HOME": home, "TMPDIR": home, "PATH": os.environ.get("PATH", ""), "LC_ALL": "C",
           "DISABLE_AUTOUPDATER": "1", "BUN_OPTIONS": f"--preload={ENTRY_PROBE}"}
    try:
        proc = subprocess.run(_confined([host_binary, "--version"], home), env=env, capture_output=True,
                              text=True, timeout=60, cwd=home, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if ENTRY_RESOLVED in proc.stderr or proc.returncode == 0:
        _RESOLVED[host_binary] = ENTRY_RESOLVED in proc.stderr
        return _RESOLVED[host_binary]
    return None


def darwin_entry(release: Release) -> Path | None:
    """The written-out darwin entry of a native release (its cache entry's `entry`)."""
    return getattr(release, "entry", None)


def how_started(release: Release, sandbox) -> tuple[dict[str, str], str | None]:
    """Extra environment that makes a native release start its darwin entry, and None; or why it
    cannot (the release is then not checkable).  A runtime that resolves its entry through the
    preload needs nothing more; one that does not gets darwin-entry.mjs, which imports the darwin
    entry itself and keeps the host's own entry from running."""
    if (release.form != "native" or release.preload is None or getattr(release, "runtime_kind", None) == "bun"
            or getattr(release, "embedded", None) is not None):
        return {}, None          # a JS release, the public `bun` given the darwin entry, or the graph embedded
    resolved = entry_resolved(str(release.host_binary), str(sandbox.tmp))
    if resolved:
        return {}, None
    entry = darwin_entry(release)
    if resolved is None or entry is None or not entry.exists():
        return {}, ("the host runtime could not be probed, or the darwin entry is not written out: "
                    "its darwin code path cannot be started")
    _, env = command(release)
    return {"BUN_OPTIONS": f"{env.get('BUN_OPTIONS', '')} --preload={DARWIN_ENTRY}".strip(),
            "KEYCHAIN_CLAIMS_DARWIN_ENTRY": str(entry)}, None


def _path(sandbox_env: dict[str, str]) -> str:
    """The sandbox PATH, with the directory of the `node` in use at its end (a CI's node lives
    outside /usr/local/bin:/usr/bin:/bin); the sandbox's `security` stays first."""
    path = sandbox_env["PATH"]
    node = shutil.which("node")
    if node and str(Path(node).parent) not in path.split(":"):
        path += ":" + str(Path(node).parent)
    return path


def _spawn_log(sandbox, folder: Path) -> Path:
    """A directory whose `security` notes the first argument of each process the release starts
    (`-i`, or the command's name: no secret) and runs the sandbox's `security` -- so a write on
    the stdin of `security -i` can be told from one in argv."""
    wrapper = folder / "bin" / "security"
    if not wrapper.exists():
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        wrapper.write_text(f'#!/bin/sh\necho "${{1:-}}" >> {shlex.quote(str(folder / SPAWNED))}\n'
                           f'exec {shlex.quote(str(Path(sandbox.bin) / "security"))} "$@"\n')
        wrapper.chmod(0o755)
    return wrapper.parent


def spawned(run: "Run") -> list[str]:
    """The first argument of every `security` process the run started, in order."""
    path = run.standin / SPAWNED if run.standin else None
    return path.read_text().splitlines() if path and path.exists() else []


def standin_folder(sandbox) -> Path:
    return Path(sandbox.root) / STANDIN_DIR


def run(release: Release, sandbox, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
    cmd, release_env = command(release)
    started, why = how_started(release, sandbox)
    if why:
        raise NotExercised(f"Claude Code {release.version}: {why}")
    release_env = {**release_env, **started}
    folder = standin_folder(sandbox)
    try:
        ca = standin.make_ca(folder)
    except standin.StandInError as exc:
        raise RunError(f"stand-in: {exc}") from None
    (folder / standin.ERROR_FILE).unlink(missing_ok=True)
    (folder / SPAWNED).unlink(missing_ok=True)
    full_env = {**sandbox.env, "PATH": f"{_spawn_log(sandbox, folder)}:{_path(sandbox.env)}",
                "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                "CLAUDE_CODE_MAX_RETRIES": "0", "NODE_EXTRA_CA_CERTS": str(ca), **release_env, **(env or {})}
    cmd = _confined([*cmd, *args], str(sandbox.tmp), full_env)
    mode = isolation_for(sandbox.session.backend)
    how = ("" if release.form != "native" else
           f"darwin graph embedded, with its bytecode, in a copy of runtime {release.runtime}" if release.embedded
           else "darwin entry imported by darwin-entry.mjs (the host runtime does not ask the preload's resolver "
           "about its entry)" if started else "darwin entry through the preload's resolver")
    stop = None
    if mode == "netns":
        full_env["PYTHONPATH"] = str(PROJECT_ROOT)
        wrapped = ["unshare", "-n", sys.executable, "-m", "keychain_claims.releases.netns", str(folder), "--", *cmd]
    else:
        try:
            served, stop = standin.start(folder)
        except standin.StandInError as exc:
            raise RunError(f"stand-in: {exc}") from None
        full_env.update(served)
        wrapped = cmd
        if sys.platform == "darwin" and shutil.which("sandbox-exec"):
            wrapped = ["sandbox-exec", "-p", macos_profile(sandbox.root, kept_paths(cmd, full_env)), *cmd]
    try:
        # a session of its own: no controlling terminal (a prompt fails, never waits), one group to stop
        proc = subprocess.Popen(wrapped, env=full_env, cwd=sandbox.home, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        if stop:
            stop()
        raise RunError(f"cannot start {wrapped[0]}: {exc.strerror or exc}") from None
    try:
        sandbox.track_pid(proc.pid)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            output = transcript(f"stopped after {timeout:.0f} s", mode, how, stdout, stderr)
            requests = len(standin.requests(folder))
            if not (folder / SPAWNED).exists() and not requests:
                raise NotExercised(f"claude {' '.join(args)} did not get going within {timeout:.0f} s "
                                   f"(no security call, no request at the stand-in), {_last_line(stdout, stderr)}",
                                   output, folder) from None
            # it got going (a security call or a request) and then never ended: what it would have done
            # next is not observed, which says nothing about the release (a hang is not a statement)
            calls = len((folder / SPAWNED).read_text().splitlines()) if (folder / SPAWNED).exists() else 0
            raise NotExercised(f"claude {' '.join(args)} did not finish within {timeout:.0f} s ({calls} security "
                               f"call(s), {requests} request(s) at the stand-in before it was "
                               f"stopped), {_last_line(stdout, stderr)}: what it does next is not observed here",
                               output, folder) from None
    finally:
        if stop:
            stop()
    error = folder / standin.ERROR_FILE
    if error.exists():
        raise RunError(f"stand-in: {error.read_text().strip()}")
    return Run(list(args), proc.returncode, stdout, stderr, mode, folder, how)
