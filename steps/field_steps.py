"""Steps of features/field.feature: the causes public reports give for the returning prompt that the
article does not name (ledger `omissions:`).  Every action goes through the scenario's `security`."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from pytest_bdd import given, parsers, then, when

from keychain_claims.backends import skip_here
from keychain_claims.fakes import Fakes
from keychain_claims.harness import claude_code
from keychain_claims.security import callers, dump
from keychain_claims.harness.world import World
from keychain_claims.claims.outcomes import Prop
from steps.keychain import ANSWER, trusted_names
from steps.release_runs import run_claude

CANCELED_EXIT = 128        # errSecUserCanceled (-128) as security's exit status


def _store(world: World, account: str, payload: str, service: str, **kw):
    call = world.security("-i", stdin=claude_code.write_line(account, payload, service), **kw)
    assert call.status == 0, call.transcript()
    return call


# --------------------------------------------------------------------------- several items, one service
@given(parsers.re(r'Claude Code\'s MCP OAuth state is stored under the same service for account "(?P<account>[^"]+)"'))
def mcp_item(world: World, fakes: Fakes, account: str):
    """The item the field reports beside the credential: account `unknown`, only `mcpOAuth` in it
    (musistudio/claude-code-router#1601, uwuclxdy/clauth#1)."""
    state = {"mcpOAuth": {"server|0": {"accessToken": str(fakes.token()), "serverName": "docs"}}}
    world.marks["mcp_payload"] = json.dumps(state, separators=(",", ":"))
    _store(world, account, world.marks["mcp_payload"], world.service)


@then(r"~/.claude/.credentials.json holds the MCP OAuth state, not the credential")
def file_holds_mcp(world: World):
    text = (world.sandbox.home / ".claude" / ".credentials.json").read_text()
    assert text.strip() == world.marks["mcp_payload"], "the file does not hold the MCP item's data"
    assert "claudeAiOauth" not in text, "the file holds the credential"


@then(parsers.re(r'the item for (?:account "(?P<account>[^"]+)"|(?P<me>the current user)) '
                 r'(?P<state>still exists|no longer exists)'))
def item_for_account(world: World, account: str | None, me: str | None, state: str):
    call = world.security("find-generic-password", "-a", account or world.account, "-s", world.service)
    assert (call.status == 0) == (state == "still exists"), call.transcript()


# --------------------------------------------------------------------------- one item per configuration directory
@given(parsers.re(r'Claude Code has stored a credential under the configuration directory "(?P<path>[^"]+)"'))
def stored_under_config_dir(world: World, fakes: Fakes, path: str):
    full = path.replace("~", str(world.sandbox.home), 1)
    service = claude_code.service(full)
    _store(world, world.account, str(fakes.credential().payload), service)
    world.marks.setdefault("config_services", []).append(service)


@when(parsers.re(rf"the app reads every Claude Code item, answering {ANSWER}"))
def app_reads_every(world: World, choice: str):
    for service in world.marks["config_services"]:
        world.reads.append(world.security(*claude_code.read_argv(world.account, service), caller=world.app,
                                          default=choice))


@then(parsers.re(r'the keychain holds (?P<count>\d+) items whose service starts with "(?P<prefix>[^"]+)"'))
def items_with_prefix(world: World, count: str, prefix: str):
    call = world.security("dump-keychain", str(world.sandbox.keychain.path))
    services = [i.get("svce") or "" for i in dump.parse(call.stdout)]
    assert len([s for s in services if s.startswith(prefix)]) == int(count), services


# --------------------------------------------------------------------------- another writer
@when(parsers.re(r'the framework writer "(?P<name>[^"]+)" of team "(?P<team>\w+)" re-creates the item with '
                 r'SecItemDelete and SecItemAdd'))
def framework_writer(world: World, fakes: Fakes, name: str, team: str, request):
    """Claude.app's write as #62213 describes it: delete, then add a new item.  The state it leaves, as #81707
    shows it: a new item (new creation date) whose access list trusts the writer and `/usr/bin/security`,
    partition list the writer's team ID only.  Built the same way on every backend -- delete, add with both
    trusted, then the partition list set with the keychain password -- since a test caller on a Mac only
    reads: the writer itself is emulated."""
    from steps.keychain import metadata
    request.node.user_properties.append((Prop.PROVENANCE, [world.backend.provenance, "emulated"]))
    world.marks["before"] = metadata(world)
    writer = callers.app(name, "developer-id", team=team)
    call = world.security(*claude_code.delete_argv(world.account, world.service))
    assert call.status == 0, call.transcript()
    credential = fakes.credential()
    line = (f'add-generic-password -a "{world.account}" -s "{world.service}" '
            f'-X "{str(credential.payload).encode().hex()}" -T "{writer.path}" -T /usr/bin/security\n')
    call = world.security("-i", stdin=line)
    assert call.status == 0, call.transcript()
    call = world.security("set-generic-password-partition-list", "-S", f"teamid:{team}", "-a", world.account,
                          "-s", world.service, str(world.sandbox.keychain.path))
    assert call.status == 0, call.transcript()
    world.previous.append(world.credential)
    world.credential = credential


@given(parsers.re(r'the item\'s partition list is "(?P<ids>[^"]+)"'))
def partition_list_given(world: World, ids: str):
    from steps.keychain import partition_list
    partition_list(world, ids)


@then(parsers.re(r'the item\'s access list still trusts "(?P<name>[^"]+)"'))
def access_list_still(world: World, name: str):
    assert name.lower() in trusted_names(world), trusted_names(world)


# --------------------------------------------------------------------------- concurrent readers
@when(parsers.re(rf"(?P<count>\d+) processes read the credential at once, answering {ANSWER}"))
def concurrent_reads(world: World, count: str, choice: str):
    """N `security` processes started together, as N `claude` processes (or one with N sessions) do:
    each asks securityd on its own, so each one that is refused gets its own dialog (#89985: "10+ at once")."""
    world.marks["dialogs_before"] = len(world.dialogs("item"))
    with ThreadPoolExecutor(max_workers=int(count)) as pool:
        jobs = [pool.submit(world.claude_read, default=choice) for _ in range(int(count))]
        world.marks["concurrent"] = [job.result() for job in jobs]


@then(parsers.re(r"each of the (?P<count>\d+) reads waited on a dialog of its own"))
def each_waited(world: World, count: str):
    """Where dialogs are drawn on the terminal each is answered and counted.  Behind a dialog watch (a window
    nobody answers) the watch of one read dismisses every window open at that moment: that read's dialog is
    answered by emulation, the others end as a dismissed dialog does (errSecUserCanceled) -- each of them was
    held by a window of its own."""
    answered = len(world.dialogs("item")) - world.marks["dialogs_before"]
    reads = world.marks["concurrent"]
    if world.session.dialog_watch() is None:
        waited = answered
    else:
        dismissed = [c for c in reads if c.status == CANCELED_EXIT and "emulated" not in c.context]
        waited = answered + len(dismissed)
    assert waited == int(count), f"{answered} dialogs answered; exits {[c.status for c in reads]}"


# --------------------------------------------------------------------------- with a release
@then("every security call of the release names the account of the current user")
def release_calls_own_account(world: World):
    calls = world.session.call_log()
    if calls is None:
        skip_here(world.backend, "keeps no log of security calls")
    accounts = set()
    for argv in calls[int(world.marks.get("calls_before_run", 0)):]:       # `security -i` lines are logged one by one
        accounts |= {argv[i + 1] for i, w in enumerate(argv[:-1]) if w == "-a"}
    assert accounts == {world.account}, f"accounts named by the release: {sorted(accounts)}"


@then(parsers.re(r'the item for account "(?P<account>[^"]+)" still holds the MCP OAuth state'))
def mcp_item_intact(world: World, account: str):
    call = world.security("find-generic-password", "-a", account, "-w", "-s", world.service)
    assert call.status == 0, call.transcript()
    assert call.stdout.strip() == world.marks["mcp_payload"], "the MCP item's data changed"


@when(parsers.re(r'I run the release with "(?P<args>[^"]+)" under each configuration directory'))
def run_release_per_config_dir(world: World, claude_release, args: str):
    for service in world.marks["config_services"]:
        folder = world.marks.setdefault("config_dirs", {})
        path = next(p for p in _config_dirs(world) if claude_code.service(p) == service)
        folder[service] = path
        run_claude(world, claude_release, args, {"CLAUDE_CONFIG_DIR": path})


def _config_dirs(world: World) -> list[str]:
    return [str(world.sandbox.home / d / ".claude") for d in ("work-a", "work-b")]


@then("the release read the item of each configuration directory")
def release_read_each(world: World):
    calls = world.session.call_log()
    if calls is None:
        skip_here(world.backend, "keeps no log of security calls")
    for service in world.marks["config_services"]:
        want = ["find-generic-password", "-a", world.account, "-w", "-s", service]
        assert want in calls, f"no read of {service} among {len(calls)} security calls"


@then("the release's keychain service name hashes the configuration directory and not the working directory")
def service_name_inputs(claude_release, request):
    """The function that returns `Claude Code…-credentials…`, read from the release: what it hashes."""
    import re
    import pytest
    from keychain_claims.releases import fingerprints
    request.node.user_properties.append((Prop.PROVENANCE, ["fingerprint"]))
    if claude_release.bundle:
        text = claude_release.bundle.read_text(errors="replace")
    elif getattr(claude_release, "preload", None):
        text = fingerprints.graph_text(claude_release.preload.parent)
    else:
        pytest.skip(f"{claude_release.version}: no readable code (neither cli.js nor a module graph)")
    found = re.search(r"return`Claude Code\$\{[^`]*OAUTH_FILE_SUFFIX\}", text)
    if found is None:
        pytest.skip(f"{claude_release.version}: the item-naming function cannot be located; not guessing")
    body = text[max(0, found.start() - 400):found.end()]
    body = body[body.rfind("function"):]
    assert "CLAUDE_CONFIG_DIR" in body and "sha256" in body, body
    assert "cwd()" not in body and "process.cwd" not in body and "PWD" not in body, body
