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
import subprocess
from pathlib import Path

from keychain_claims.security.output import normalise
from keychain_claims.measures.behaviour import behaviour_table, load_behaviour, run_behaviour
from keychain_claims.measures.replay import Box, Result, compare_text, figure, window_text
from keychain_claims.sim import command as sim_command
from keychain_claims.measures.assumptions import settle as assumptions
from keychain_claims import PROJECT_ROOT
from keychain_claims.sim import commands, control
from keychain_claims.backends.sim import SimBackend
from keychain_claims.security.lines import split_line

FORMAT = "keychain-claims/real-transcript/1"
SYSTEM_KEYCHAIN = "/Library/Keychains/System.keychain"


def default_dir() -> Path:
    return PROJECT_ROOT / "fixtures" / "transcripts" / "real"


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
    argv = list(case.get("run", {}).get("argv") or [])
    while argv and argv[0].startswith("-"):
        if argv[0] == "-i" or argv[0].startswith("-p"):
            lines = [split_line(line) for line in (case["run"].get("stdin") or "").splitlines()]
            argv = next((a for a in lines if a), [])
            break
        argv = argv[1:]
    if not argv:
        return "security"
    row = commands.lookup(argv[0])
    return row[0] if row else argv[0]


def _setup_step(box: Box, env: dict, step: dict) -> None:
    """{"file": PATH, "text": ""} writes a file; {"item": {...}} stores an item through control.add_item."""
    if "file" in step:
        path = Path(box.expand(step["file"]))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(step.get("text", ""))
    elif "item" in step:
        spec = step["item"]
        control.add_item(box.expand(spec["keychain"]), spec["attrs"], spec.get("secret", "").encode(),
                         spec["password"], spec.get("class", "genp"), state=Path(env["KEYCHAIN_SIM_STATE"]))
    else:
        raise ValueError(f"unknown setup step {step!r}")


def replay(case: dict) -> Result:
    compare = case.get("compare", {})
    source = case.get("source", {}).get("url", "")
    command = command_of(case)
    result = Result(case["id"], command, "not-comparable", source=source)
    mode = compare.get("mode", "exact")
    if mode == "not-supported" or compare.get("not_comparable"):
        result.reason = compare.get("not_comparable") or compare.get("reason") or "marked not-supported"
        return result
    box = Box()
    try:
        env = dict(box.env)
        run = case["run"]
        for step in case.get("setup", []):
            if isinstance(step, dict):              # state `security` cannot make: a file, an item without account
                _setup_step(box, env, step)
                continue
            argv = [box.expand(a) for a in step]
            proc = subprocess.run(sim_command() + argv, env=env, cwd=box.root, capture_output=True, text=True,
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
            got, status = window_text(box, argv, env)
        else:
            stdin = run.get("stdin")
            proc = subprocess.run(sim_command() + argv, env=env, cwd=box.root, input=None if stdin is None else box.expand(stdin),
                                  stdin=subprocess.DEVNULL if stdin is None else None, text=True,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT if capture == "combined" else subprocess.PIPE)
            status = proc.returncode
            got = {"combined": proc.stdout, "stdout": proc.stdout, "stderr": proc.stderr}.get(capture, proc.stdout)
        real = case["real"]
        sim_subst = {box.expand(k): v for k, v in case.get("sim_subst", {}).items()}
        sim_subst.setdefault(box.values["{SYS}"], SYSTEM_KEYCHAIN)
        got = normalise(got, sim_subst)
        problems = []
        for stream in ("combined", "stdout", "stderr", "dialog"):
            if stream not in real or (stream == "stdout" and capture == "combined"):
                continue
            if (stream != capture and not (stream == "stdout" and capture == "separate")
                    and not (capture == "separate" and stream == "stderr")):
                continue
            expected = normalise(real[stream], case.get("real_subst", {}))
            have = got if stream == capture or capture == "dialog" else (
                normalise(proc.stdout, sim_subst) if stream == "stdout" else normalise(proc.stderr, sim_subst))
            if not compare_text(mode, expected, have, compare.get("strip", False), compare.get("fold", False),
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
         behaviour_directory: Path | None = None, settled_directory: Path | None = None) -> int:
    """The replay's figures; with `settled_directory`, the settle transcripts' comparison too -- as
    JSON, all of it one document on stdout."""
    if settled_directory is not None and not as_json:
        settled_main(settled_directory)
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
                                                    for r in behaviour]},
                          **({"settled": settled(settled_directory)} if settled_directory is not None else {})},
                         indent=2))
    else:
        print(table(results, verbose))
        print(behaviour_table(behaviour, cases, verbose))
    return 0


# ----------------------------------------------------------------------------- settle transcripts
def settled(directory: Path) -> list[dict]:
    """Settle transcripts (`keychain-claims assumptions --settle`, keychain_claims/measures/assumptions/)
    recorded on some host, each compared with the simulator's answer to the same probe: `agrees`
    when the host and the simulator settle it the same way, `differs` (the simulator's constant or
    behaviour named in `settles` needs correcting), or `not-comparable` (the host could not settle it:
    not a question for its backend, or the probe could not run)."""
    recorded = assumptions.load(Path(directory))
    if not recorded:
        return []
    sim = assumptions.settle(SimBackend(), None, only=list(recorded))
    rows = []
    for aid, doc in recorded.items():
        mine = sim.get(aid, {"status": "unknown assumption", "observed": ""})
        if {doc["status"], mine["status"]} & {"not-settled-here", "could-not-run"}:
            state = "not-comparable"
        else:
            state = "agrees" if doc["status"] == mine["status"] else "differs"
        rows.append({"id": aid, "state": state, "host": f"{doc['backend']} ({doc.get('host', '')})",
                     "host_status": doc["status"], "host_observed": doc.get("observed", ""),
                     "sim_status": mine["status"], "sim_observed": mine.get("observed", ""),
                     "settles": doc.get("settles", ""), "calls": len(doc.get("calls", []))})
    return rows


def settled_main(directory: Path) -> None:
    rows = settled(directory)
    agree = sum(r["state"] == "agrees" for r in rows)
    comparable = sum(r["state"] != "not-comparable" for r in rows)
    print(f"assumptions: {agree}/{comparable} settle transcripts agree with the simulator; "
          f"{len(rows) - comparable} not comparable; {len(rows)} in {directory}")
    for r in rows:
        if r["state"] != "agrees":
            print(f"{r['state']:<15} {r['id']}: host {r['host_status']} ({r['host_observed'][:80]}); "
                  f"simulator {r['sim_status']} ({r['sim_observed'][:80]}) -> {r['settles']}")
