"""How closely the simulator answers like real macOS: verbatim `security` outputs found in public
material (fixtures/transcripts/real/*.json), each replayed against `keychain-sim`.

A real transcript holds the output macOS printed (`real`: stdout/stderr/combined, exit status
where shown) with its source, and a reconstruction of the state behind it (`setup`, `run`).
Replaying rebuilds that state in a throw-away HOME and state directory, runs the same command and
compares, after normalising what differs between any two machines (keychain paths, dates).  A
transcript is `match`, `differs` (the difference is listed), or `not-comparable` with its reason
(a state that cannot be rebuilt, an older format, a command the simulator does not model).

    keychain-claims fidelity [--dir DIR] [--verbose]     the figure: matches / comparable

Not on the simulator's hot path: only the replay tool and the tests import it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

FORMAT = "keychain-claims/real-transcript/1"
_DATE = re.compile(r'<timedate>=(?:0x[0-9A-Fa-f]+ +"[^"\n]*"|<NULL>)')
SYSTEM_KEYCHAIN = "/Library/Keychains/System.keychain"


def default_dir() -> Path:
    from keychain_claims import PROJECT_ROOT
    return PROJECT_ROOT / "fixtures" / "transcripts" / "real"


@dataclass
class Result:
    id: str
    command: str                 # the security subcommand, as the command table names it
    state: str                   # match | differs | not-comparable
    reason: str = ""             # why not comparable, or what differs
    expected: str = ""
    got: str = ""
    source: str = ""

    @property
    def comparable(self) -> bool:
        return self.state != "not-comparable"


@dataclass
class Figure:
    matches: int = 0
    comparable: int = 0
    per_command: dict[str, list[int]] = field(default_factory=dict)     # name -> [matches, comparable]

    def __str__(self) -> str:
        return f"{self.matches}/{self.comparable}"


def load(directory: Path | None = None) -> list[dict]:
    directory = Path(directory or default_dir())
    cases = []
    for path in sorted(directory.glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path} is not a {FORMAT} transcript ({type(exc).__name__}); "
                             "give --dir a folder of real transcripts") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"{path} is not a {FORMAT} transcript; give --dir a folder of real transcripts")
        cases.append(doc)
    return cases


def command_of(case: dict) -> str:
    """The subcommand a transcript exercises, resolved in the real command table's order."""
    from keychain_claims.sim import commands
    argv = list(case.get("run", {}).get("argv") or [])
    while argv and argv[0].startswith("-"):
        if argv[0] == "-i" or argv[0].startswith("-p"):
            from keychain_claims.sim.cli import split_line
            lines = [split_line(line) for line in (case["run"].get("stdin") or "").splitlines()]
            argv = next((a for a in lines if a), [])
            break
        argv = argv[1:]
    if not argv:
        return "security"
    row = commands.lookup(argv[0])
    return row[0] if row else argv[0]


class _Box:
    """A throw-away HOME and simulator state; placeholders of the reconstruction point into it."""

    def __init__(self):
        from keychain_claims.harness.sandbox import owned_dir
        self.root = owned_dir("fidelity-")          # under the sandboxes' base, never the host's /tmp
        self.home = self.root / "home"
        (self.home / "Library" / "Keychains").mkdir(parents=True)
        (self.root / "sys").mkdir()
        (self.root / "tmp").mkdir()
        self.values = {"{LOGIN}": str(self.home / "Library" / "Keychains" / "login.keychain-db"),
                       "{SYS}": str(self.root / "sys" / "System.keychain"),     # outside Library/Keychains: v256
                       "{TMP}": str(self.root / "tmp"), "{HOME}": str(self.home)}
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home), "LC_ALL": "C",
                    "KEYCHAIN_SIM_STATE": str(self.root / "state"), "PYTHONUNBUFFERED": "1",
                    "USER": "me", "LOGNAME": "me"}

    def expand(self, text: str) -> str:
        for key, value in self.values.items():
            text = text.replace(key, value)
        return text

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _sim() -> list[str]:
    script = Path(sys.executable).with_name("keychain-sim")
    return [str(script)] if script.exists() else [sys.executable, "-m", "keychain_claims.sim"]


def _window_text(box: _Box, argv: list[str], env: dict) -> tuple[str, int]:
    """Run a command that shows a dialog in a `gui-unattended` session; return the window's text."""
    from keychain_claims.sim import control
    state = Path(env["KEYCHAIN_SIM_STATE"])
    state.mkdir(parents=True, exist_ok=True)
    (state / "session").write_text("gui-unattended")
    proc = subprocess.Popen(_sim() + argv, env=env, cwd=box.root, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(3000):
            windows = control.windows(state)
            if windows or proc.poll() is not None:
                break
            time.sleep(0.01)
        windows = control.windows(state)
        control.dismiss(state)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return (windows[0]["text"] if windows else ""), proc.returncode


def _setup_step(box: _Box, env: dict, step: dict) -> None:
    """{"file": PATH, "text": ""} writes a file; {"item": {...}} stores an item through control.add_item."""
    if "file" in step:
        path = Path(box.expand(step["file"]))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(step.get("text", ""))
    elif "item" in step:
        from keychain_claims.sim import control
        spec = step["item"]
        control.add_item(box.expand(spec["keychain"]), spec["attrs"], spec.get("secret", "").encode(),
                         spec["password"], spec.get("class", "genp"), state=Path(env["KEYCHAIN_SIM_STATE"]))
    else:
        raise ValueError(f"unknown setup step {step!r}")


def _normalise(text: str, subst: dict[str, str]) -> str:
    for key, value in subst.items():
        text = text.replace(key, value)
    return _DATE.sub("<timedate>=<date>", text)


def _template(real: str) -> re.Pattern:
    parts = re.split(r"(<[^<>\n]+>)", real)
    return re.compile("".join("[^\\n]*?" if p.startswith("<") and p.endswith(">") else re.escape(p) for p in parts))


_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


def _fold(text: str) -> str:
    """A dialog retyped by a reporter: straight quotes for typographic ones, no sentence-final period."""
    return "\n".join(line.translate(_QUOTES).rstrip().rstrip(".") for line in text.splitlines())


def _compare(mode: str, real: str, got: str, strip: bool, fold: bool = False, collapse: bool = False) -> bool:
    if fold:
        real, got = _fold(real), _fold(got)
    if collapse:                                 # a web page that collapsed runs of spaces
        real, got = re.sub(r" +", " ", real), re.sub(r" +", " ", got)
    if strip:
        real = "\n".join(line.strip() for line in real.splitlines())
        got = "\n".join(line.strip() for line in got.splitlines())
    real, got = real.strip("\n"), got.strip("\n")
    if mode == "exact":
        return real == got
    if mode == "fragment":                       # the reporter elided lines: the real ones appear in order
        lines, at = got.splitlines(), 0
        for want in (line for line in real.splitlines() if line.strip()):
            while at < len(lines) and lines[at] != want:
                at += 1
            if at == len(lines):
                return False
            at += 1
        return True
    if mode == "template":                       # typed with <placeholders>
        return _template(real).fullmatch(got) is not None
    if mode == "joined":                         # lines joined or rewrapped by the reporter
        return " ".join(real.split()) == " ".join(got.split())
    if mode == "exit-only":
        return True
    raise ValueError(f"unknown compare mode {mode!r}")


def replay(case: dict) -> Result:
    compare = case.get("compare", {})
    source = case.get("source", {}).get("url", "")
    command = command_of(case)
    result = Result(case["id"], command, "not-comparable", source=source)
    mode = compare.get("mode", "exact")
    if mode == "not-supported" or compare.get("not_comparable"):
        result.reason = compare.get("not_comparable") or compare.get("reason") or "marked not-supported"
        return result
    box = _Box()
    try:
        env = dict(box.env)
        run = case["run"]
        for step in case.get("setup", []):
            if isinstance(step, dict):              # state `security` cannot make: a file, an item without account
                _setup_step(box, env, step)
                continue
            argv = [box.expand(a) for a in step]
            proc = subprocess.run(_sim() + argv, env=env, cwd=box.root, capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL)
            if proc.returncode != 0:
                result.state = "differs"
                result.reason = f"setup step {argv[0]} failed ({proc.returncode}): {proc.stderr.strip()[:200]}"
                return result
        env["KEYCHAIN_SIM_UI"] = run.get("ui", "none")
        env.update(run.get("env", {}))
        argv = [box.expand(a) for a in run["argv"]]
        capture = run.get("capture", "combined")
        if capture == "dialog":
            env.pop("KEYCHAIN_SIM_UI")
            got, status = _window_text(box, argv, env)
        else:
            stdin = run.get("stdin")
            proc = subprocess.run(_sim() + argv, env=env, cwd=box.root, input=None if stdin is None else box.expand(stdin),
                                  stdin=subprocess.DEVNULL if stdin is None else None, text=True,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT if capture == "combined" else subprocess.PIPE)
            status = proc.returncode
            got = {"combined": proc.stdout, "stdout": proc.stdout, "stderr": proc.stderr}.get(capture, proc.stdout)
        real = case["real"]
        sim_subst = {box.expand(k): v for k, v in case.get("sim_subst", {}).items()}
        sim_subst.setdefault(box.values["{SYS}"], SYSTEM_KEYCHAIN)
        got = _normalise(got, sim_subst)
        problems = []
        for stream in ("combined", "stdout", "stderr", "dialog"):
            if stream not in real or (stream == "stdout" and capture == "combined"):
                continue
            if stream != capture and not (stream == "stdout" and capture == "separate"):
                if not (capture == "separate" and stream == "stderr"):
                    continue
            expected = _normalise(real[stream], case.get("real_subst", {}))
            have = got if stream == capture or capture == "dialog" else (
                _normalise(proc.stdout, sim_subst) if stream == "stdout" else _normalise(proc.stderr, sim_subst))
            if not _compare(mode, expected, have, compare.get("strip", False), compare.get("fold", False),
                            compare.get("collapse_spaces", False)):
                problems.append(f"{stream} differs")
                result.expected, result.got = expected, have
        want = real.get("exit")
        if want == "nonzero" and status == 0 or isinstance(want, int) and want != status:
            problems.append(f"exit {status}, real {want}")
        result.state = "differs" if problems else "match"
        result.reason = "; ".join(problems)
        if not result.got:
            result.got = got
        return result
    finally:
        box.close()


def figure(results: list[Result]) -> Figure:
    fig = Figure()
    for r in results:
        if not r.comparable:
            continue
        row = fig.per_command.setdefault(r.command, [0, 0])
        row[1] += 1
        fig.comparable += 1
        if r.state == "match":
            row[0] += 1
            fig.matches += 1
    return fig


def table(results: list[Result], verbose: bool = False) -> str:
    fig = figure(results)
    pct = f" ({100 * fig.matches / fig.comparable:.0f}%)" if fig.comparable else ""
    lines = [f"fidelity: {fig.matches}/{fig.comparable} real transcripts match{pct}; "
             f"{len(results) - fig.comparable} not comparable; {len(results)} in all"]
    for name, (m, c) in sorted(fig.per_command.items()):
        lines.append(f"  {name:<40}{m:>3}/{c}")
    for r in results:
        if r.state == "differs":
            lines.append(f"differs  {r.id}: {r.reason}")
            if verbose:
                lines.append("   real: " + r.expected.replace("\n", "\n         "))
                lines.append("   sim:  " + r.got.replace("\n", "\n         "))
    for r in results:
        if not r.comparable:
            lines.append(f"not comparable  {r.id}: {r.reason}")
    return "\n".join(lines)


def run(directory: Path | None = None) -> list[Result]:
    return [replay(case) for case in load(directory)]


def main(directory: Path | None = None, verbose: bool = False, as_json: bool = False,
         behaviour_directory: Path | None = None) -> int:
    results = run(directory)
    behaviour = run_behaviour(behaviour_directory)
    cases = {c["id"]: c for c in load_behaviour(behaviour_directory)}
    if as_json:
        fig, bfig = figure(results), figure(behaviour)
        print(json.dumps({"matches": fig.matches, "comparable": fig.comparable, "total": len(results),
                          "per_command": fig.per_command,
                          "results": [r.__dict__ for r in results],
                          "behaviour": {"matches": bfig.matches, "comparable": bfig.comparable,
                                        "total": len(behaviour),
                                        "results": [{**r.__dict__, "macos": cases[r.id]["macos"]}
                                                    for r in behaviour]}}, indent=2))
    else:
        print(table(results, verbose))
        print(behaviour_table(behaviour, cases, verbose))
    return 0


def behaviour_table(results: list[Result], cases: dict, verbose: bool = False) -> str:
    fig = figure(results)
    lines = [f"behaviour: {fig.matches}/{fig.comparable} before/after cases from public reports match; "
             f"{len(results) - fig.comparable} not comparable; {len(results)} in all"]
    for r in results:
        lines.append(f"  {r.state:<15} macOS {cases[r.id]['macos']:<3} {r.id}  {r.source}")
        if r.state != "match" and r.reason:
            lines.append(f"      {r.reason}")
        if verbose and r.state == "differs":
            lines.append(f"      real: {r.expected}\n      sim:  {r.got}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- behaviour cases
# Before/after states public reports show (partition lists, creation/modification dates, access lists,
# securityd log lines, exit codes, dialog sentences), each rebuilt and replayed against the simulator.
# fixtures/behaviour/*.json:
#   {"format": BEHAVIOUR_FORMAT, "id", "source": {"url", ...}, "macos": "14"|"15"|..., "macos_seen": "...",
#    "before": [step...], "action": step, "expect": {...}, "item": {"acct", "svce"}, "not_comparable": why?}
# a step: {"security": [argv], "as": {caller JSON}, "stdin": "...", "ui": "none"|"gui-unattended",
#          "timeout": seconds} or {"clock": seconds}
# expect: exit, partition, trusted (paths of the decrypt entry), requirement (of its first app), cdat
# ("unchanged"|"changed"), mdat ("later"|"unchanged"), dialog (first line, quotes folded), securityd (lines in
# order), prompts (count), stdout_has / stdout_lacks (substrings).
BEHAVIOUR_FORMAT = "keychain-claims/behaviour/1"
MACOS_VERSIONS = ("14", "15", "26")


def behaviour_dir() -> Path:
    from keychain_claims import PROJECT_ROOT
    return PROJECT_ROOT / "fixtures" / "behaviour"


def load_behaviour(directory: Path | None = None) -> list[dict]:
    cases = []
    for path in sorted(Path(directory or behaviour_dir()).glob("*.json")):
        doc = json.loads(path.read_text())
        if doc.get("format") != BEHAVIOUR_FORMAT:
            raise ValueError(f"{path}: not a {BEHAVIOUR_FORMAT} case")
        if str(doc.get("macos")) not in MACOS_VERSIONS:
            raise ValueError(f"{path}: says no modelled macOS version (macos: one of {', '.join(MACOS_VERSIONS)})")
        if not doc.get("source", {}).get("url"):
            raise ValueError(f"{path}: no source address")
        cases.append(doc)
    return cases


def _item_state(box: _Box, env: dict, spec: dict) -> dict | None:
    from keychain_claims.sim import control, store
    with control._env(Path(env["KEYCHAIN_SIM_STATE"])):
        data = store.load_keychain(box.values["{LOGIN}"])
    for item in data["items"]:
        if all(item["attrs"].get(k) == v for k, v in spec.items()):
            return item
    return None


def _step(box: _Box, env: dict, step: dict) -> tuple[int, str, str]:
    if "clock" in step:
        clock = Path(env["KEYCHAIN_SIM_CLOCK"])
        clock.write_text(str(float(clock.read_text()) + step["clock"]))
        return 0, "", ""
    run_env = dict(env)
    if "as" in step:
        run_env["KEYCHAIN_SIM_CALLER"] = json.dumps(step["as"])
    ui = step.get("ui", "none")
    state = Path(env["KEYCHAIN_SIM_STATE"])
    state.mkdir(parents=True, exist_ok=True)
    (state / "session").write_text(ui)
    argv = [box.expand(a) for a in step["security"]]
    if ui == "gui-unattended" and "timeout" not in step:
        text, status = _window_text(box, argv, run_env)
        return status, "", text
    try:
        proc = subprocess.run(_sim() + argv, env=run_env, cwd=box.root, capture_output=True, text=True,
                              input=box.expand(step["stdin"]) if "stdin" in step else None,
                              stdin=None if "stdin" in step else subprocess.DEVNULL, timeout=step.get("timeout"))
    except subprocess.TimeoutExpired:           # timeout(1)'s status, as the report's wrapper saw it
        from keychain_claims.sim import control
        control.dismiss(state)
        return 124, "", ""
    return proc.returncode, proc.stdout, proc.stderr


def replay_behaviour(case: dict) -> Result:
    result = Result(case["id"], "behaviour", "not-comparable", source=case["source"]["url"])
    if case.get("not_comparable"):
        result.reason = case["not_comparable"]
        return result
    box = _Box()
    try:
        env = dict(box.env, KEYCHAIN_SIM_MACOS=str(case["macos"]), KEYCHAIN_SIM_CLOCK=str(box.root / "clock"))
        (box.root / "clock").write_text("1780000000")
        for step in case.get("before", []):
            status, out, err = _step(box, env, step)
            if status != 0:
                result.state, result.reason = "differs", f"before-step failed ({status}): {err.strip()[:200]}"
                return result
        spec = case.get("item", {"svce": "Claude Code-credentials"})
        before = _item_state(box, env, spec)
        status, out, err = _step(box, env, case["action"])
        after = _item_state(box, env, spec)
        expect, problems, got = case["expect"], [], {}
        from keychain_claims.sim import acl, control
        events = control.events(Path(env["KEYCHAIN_SIM_STATE"]))
        got["exit"] = status
        if after is not None:
            entry = acl.decrypt_entry(after) or {}
            got["partition"] = after.get("partition")
            got["trusted"] = None if entry.get("apps") is None else [a["path"] for a in entry["apps"]]
            got["requirement"] = (entry.get("apps") or [{}])[0].get("requirement")
        if before is not None and after is not None:
            got["cdat"] = "unchanged" if before["attrs"]["cdat"] == after["attrs"]["cdat"] else "changed"
            got["mdat"] = ("later" if after["attrs"]["mdat"] > before["attrs"]["mdat"] else
                           "unchanged" if after["attrs"]["mdat"] == before["attrs"]["mdat"] else "earlier")
        got["dialog"] = _fold(err.splitlines()[0]) if case["action"].get("ui") == "gui-unattended" and err else ""
        got["securityd"] = [e["line"] for e in events if e.get("event") == "securityd"]
        got["prompts"] = len([e for e in events if e.get("event") == "prompt"])
        for key, want in expect.items():
            if key == "stdout_has":
                ok = want in out
            elif key == "stdout_lacks":
                ok = want not in out
            elif key == "dialog":
                ok = got["dialog"] == _fold(want)
            elif key == "securityd":
                ok = _compare("fragment", "\n".join(want), "\n".join(got["securityd"]), False)
            else:
                ok = got.get(key) == want
            if not ok:
                shown = "(stdout)" if key.startswith("stdout") else got.get(key)
                problems.append(f"{key}: real {want!r}, sim {shown!r}")
        result.state = "differs" if problems else "match"
        result.reason = "; ".join(problems)
        result.expected = json.dumps(expect, sort_keys=True)
        result.got = json.dumps({k: got.get(k) for k in expect if not k.startswith("stdout")}, sort_keys=True)
        return result
    finally:
        box.close()


def run_behaviour(directory: Path | None = None) -> list[Result]:
    return [replay_behaviour(case) for case in load_behaviour(directory)]

# ----------------------------------------------------------------------------- settle transcripts
def settled(directory: Path) -> list[dict]:
    """Settle transcripts (`keychain-claims assumptions --settle`, keychain_claims/assumptions.py)
    recorded on some host, each compared with the simulator's answer to the same probe: `agrees`
    when the host and the simulator settle it the same way, `differs` (the simulator's constant or
    behaviour named in `settles` needs correcting), or `not-comparable` (the host could not settle it)."""
    from keychain_claims.assumptions import settle as assumptions
    from keychain_claims.backends.sim import SimBackend
    recorded = assumptions.load(Path(directory))
    if not recorded:
        return []
    sim = assumptions.settle(SimBackend(), None, only=list(recorded))
    rows = []
    for aid, doc in recorded.items():
        mine = sim.get(aid, {"status": "unknown assumption", "observed": ""})
        if doc["status"] == "not-settled-here" or mine["status"] == "not-settled-here":
            state = "not-comparable"
        else:
            state = "agrees" if doc["status"] == mine["status"] else "differs"
        rows.append({"id": aid, "state": state, "host": f"{doc['backend']} ({doc.get('host', '')})",
                     "host_status": doc["status"], "host_observed": doc.get("observed", ""),
                     "sim_status": mine["status"], "sim_observed": mine.get("observed", ""),
                     "settles": doc.get("settles", ""), "calls": len(doc.get("calls", []))})
    return rows


def settled_main(directory: Path, as_json: bool = False) -> None:
    rows = settled(directory)
    if as_json:
        print(json.dumps({"settled": rows}, indent=2))
        return
    agree = sum(r["state"] == "agrees" for r in rows)
    comparable = sum(r["state"] != "not-comparable" for r in rows)
    print(f"assumptions: {agree}/{comparable} settle transcripts agree with the simulator; "
          f"{len(rows) - comparable} not comparable; {len(rows)} in {directory}")
    for r in rows:
        if r["state"] != "agrees":
            print(f"{r['state']:<15} {r['id']}: host {r['host_status']} ({r['host_observed'][:80]}); "
                  f"simulator {r['sim_status']} ({r['sim_observed'][:80]}) -> {r['settles']}")
