"""Before/after behaviour from public reports, replayed against the simulator (see the format
below); `keychain-claims fidelity` prints their figure after the real transcripts'."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from keychain_claims.measures.replay import Box, Result, compare_text, figure, fold_retyped, window_text
from keychain_claims.sim import command as sim_command
from keychain_claims import PROJECT_ROOT
from keychain_claims.sim import acl, control, store
from keychain_claims.security import dialogs


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


def _item_state(box: Box, env: dict, spec: dict) -> dict | None:
    with store.using_state(Path(env["KEYCHAIN_SIM_STATE"])):
        data = store.load_keychain(box.values["{LOGIN}"])
    for item in data["items"]:
        if all(item["attrs"].get(k) == v for k, v in spec.items()):
            return item
    return None


def _step(box: Box, env: dict, step: dict) -> tuple[int, str, str]:
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
        text, status = window_text(box, argv, run_env)
        return status, "", text
    try:
        proc = subprocess.run(sim_command() + argv, env=run_env, cwd=box.root, capture_output=True, text=True,
                              input=box.expand(step["stdin"]) if "stdin" in step else None,
                              stdin=None if "stdin" in step else subprocess.DEVNULL, timeout=step.get("timeout"))
    except subprocess.TimeoutExpired:           # timeout(1)'s status, as the report's wrapper saw it
        control.dismiss(state)
        return 124, "", ""
    return proc.returncode, proc.stdout, proc.stderr


def _prepare(box: Box, case: dict) -> tuple[dict, str]:
    """The case's environment in `box` (its macOS version, a clock of its own) after its before-steps; the second
    value says which step failed, empty when all ran."""
    env = dict(box.env, KEYCHAIN_SIM_MACOS=str(case["macos"]), KEYCHAIN_SIM_CLOCK=str(box.root / "clock"))
    (box.root / "clock").write_text("1780000000")
    for step in case.get("before", []):
        status, _, err = _step(box, env, step)
        if status != 0:
            return env, f"before-step failed ({status}): {err.strip()[:200]}"
    return env, ""


def replay_behaviour(case: dict) -> Result:
    result = Result(case["id"], "behaviour", "not-comparable", source=case["source"]["url"])
    if case.get("not_comparable"):
        result.reason = case["not_comparable"]
        return result
    box = Box()
    try:
        env, failed = _prepare(box, case)
        if failed:
            result.state, result.reason = "differs", failed
            return result
        spec = case.get("item", {"svce": "Claude Code-credentials"})
        before = _item_state(box, env, spec)
        status, out, err = _step(box, env, case["action"])
        after = _item_state(box, env, spec)
        expect, problems = case["expect"], []
        got: dict[str, Any] = {}
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
        got["dialog"] = fold_retyped(err.splitlines()[0]) if case["action"].get("ui") == "gui-unattended" and err else ""
        got["securityd"] = [e["line"] for e in events if e.get("event") == "securityd"]
        got["prompts"] = len([e for e in events if e.get("event") == "prompt"])
        for key, want in expect.items():
            if key == "stdout_has":
                ok = want in out
            elif key == "stdout_lacks":
                ok = want not in out
            elif key == "dialog":
                ok = got["dialog"] == fold_retyped(want)
            elif key == "securityd":
                ok = compare_text("fragment", "\n".join(want), "\n".join(got["securityd"]), False)
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


# ---------------------------------------------------------------------------- the dialog corpus, replayed
# Each report of security/dialogs.json that quotes the dialog's own words (verbatim or cut off) is rebuilt as a
# behaviour case: the state it reports (acl, partition, locked) made in a scratch login keychain by the steps
# below, then a read by the report's application in a gui-unattended session at each modelled macOS version the
# report stands for; the window's text is compared with the report's (security/dialogs.py agrees).
_HEX = "7b22636c6175646541694f61757468223a7b22616363657373546f6b656e223a224b4343414e4152592d61227d7d"
_OTHER_TEAM = "ZZZZZZZZZZ"        # a partition ID no reader here has


def report_caller(app: str, path: str = "") -> dict:
    """The reader a report names: /usr/bin/security, or a Developer-ID app of that name (at the path the report
    gives, else in /Applications).  The dialog shows what the simulator derives from it (sim/acl.py app_name)."""
    if app == "security":
        return {"path": "/usr/bin/security"}
    slug = "".join(ch for ch in app.lower() if ch.isalnum()) or "app"
    return {"path": path or f"/Applications/{app}.app/Contents/MacOS/{app}", "identifier": f"com.example.{slug}",
            "signing": "developer-id", "team": "RPTEAM0001"}


def dialog_case(report, version: str) -> dict:
    """A behaviour case that makes `report`'s state and reads its item as its application."""
    kc = f"{{HOME}}/Library/Keychains/{report.keychain}.keychain-db"
    reader = report_caller(report.app, report.path)
    item = report.item or "kc-item"            # an unlock report names no item: any item in the keychain
    add = ["add-generic-password", "-a", "me", "-s", item, "-X", _HEX]
    before: list[dict[str, Any]] = [{"security": ["create-keychain", "-p", "pw", kc]}, {"security": ["list-keychains", "-s", kc]},
              {"security": ["default-keychain", "-s", kc]}]
    if report.state == "acl":                  # an item its maker trusts; the reader is someone else
        maker = report_caller("Owner") if report.app == "security" else report_caller("security")
        before.append({"security": add + [kc], "as": maker})
    elif report.state == "partition":          # the reader trusted, its partition ID missing
        trust = ["-T", "/usr/bin/security"] + ([] if report.app == "security" else ["-T", reader["path"]])
        before += [{"security": add + trust + [kc]},
                   {"security": ["set-generic-password-partition-list", "-S", f"teamid:{_OTHER_TEAM}", "-a", "me",
                                 "-s", item, "-k", "pw", kc]}]
    else:                                      # locked: the reader trusted, the keychain locked
        trust = [] if report.app == "security" else ["-T", "/usr/bin/security", "-T", reader["path"]]
        before += [{"security": add + trust + [kc]}, {"security": ["lock-keychain", kc]}]
    return {"format": BEHAVIOUR_FORMAT, "id": f"{report.id}@{version}", "source": {"url": report.source},
            "macos": version, "before": before, "item": {"svce": item},
            "action": {"security": ["find-generic-password", "-a", "me", "-s", item, "-w"], "as": reader,
                       "ui": "gui-unattended"}}


def drawn_dialog(case: dict) -> str:
    """Run a behaviour case's steps and its action in a gui-unattended session; the first window's text."""
    box = Box()
    try:
        env, failed = _prepare(box, case)
        if failed:
            raise RuntimeError(f"{case['id']}: {failed}")
        _, _, text = _step(box, env, case["action"])
        return text
    finally:
        box.close()


def replay_dialog(report, version: str) -> Result:
    """One drawn report at one modelled version: match (the simulator drew what the report quotes) or differs."""
    result = Result(f"{report.id}@{version}", "dialog", "not-comparable", source=report.source)
    if not report.drawn:
        result.reason = f"a {report.form} report: a recorded disagreement, not drawn"
        return result
    drawn = drawn_dialog(dialog_case(report, version))
    result.expected, result.got = report.text, drawn
    result.state = "match" if dialogs.agrees(report, drawn) else "differs"
    if result.state == "differs":
        result.reason = f"the report quotes {report.text!r}, the simulator drew {drawn.strip()!r}"
    return result


def run_dialogs(corpus=None) -> list[Result]:
    """Every drawn report of the dialog corpus, at every modelled version it stands for."""
    corpus = corpus or dialogs.load()
    return [replay_dialog(r, v) for r in corpus.reports if r.drawn for v in r.versions]
