"""Steps that type the article's commands into an interactive shell in the sandbox and
check what the terminal and the file system show afterwards."""
from __future__ import annotations

import json
import re
import stat
import subprocess
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, then, when

from keychain_claims.claims.article import Article
from keychain_claims.fakes import Fakes
from keychain_claims.harness.world import World

from .keychain import metadata

CREDENTIALS = "~/.claude/.credentials.json"


def _path(world: World, path: str) -> Path:
    return Path(path.replace("~", str(world.sandbox.home), 1))


@pytest.fixture(scope="session")
def article_commands(request) -> set[str]:
    from keychain_claims.plugins.state import CLAIMS
    return {c.text for c in request.config.stash[CLAIMS].article.commands}


def _type_lines(world: World, docstring: str, choice: str | None, verbatim: set[str] | None):
    world.marks["before_typing"] = metadata(world)
    for line in docstring.splitlines():
        if not line.strip():
            continue
        if verbatim is not None:
            assert line in verbatim, f"not a command of the article (typo or the article changed?): {line}"
        world.type(line, default=choice or "Deny")


@when(parsers.re(r"I type the article's commands?(?:, answering \"(?P<choice>Always Allow|Allow|Deny)\")?:"))
def type_article_commands(world: World, docstring: str, article_commands: set[str], choice: str | None):
    _type_lines(world, docstring, choice, article_commands)


@when("I type the command:")
def type_command(world: World, docstring: str):
    """A variation on the article's commands (not verbatim), e.g. without its redirect."""
    _type_lines(world, docstring, None, None)


@given("I have followed the article's file-bypass recipe")
def follow_bypass(world: World, request):
    from keychain_claims.plugins.state import CLAIMS
    article: Article = request.config.stash[CLAIMS].article
    recipe = [c.text for c in article.commands if ".credentials.json" in c.text]
    recipe.append(next(c.text for c in article.commands if c.text.startswith("security delete-generic-password")))
    for line in recipe:
        run = world.type(line)
        assert run.status == 0, run
    world.marks["file_credential"] = world.credential


@given("my umask is 022")
def umask(world: World):
    assert world.type("umask 022").status == 0


@given(parsers.re(r"~/\.claude (?P<state>exists|does not exist)"))
def claude_dir(world: World, state: str):
    path = _path(world, "~/.claude")
    if state == "exists":
        path.mkdir(mode=0o700, exist_ok=True)
    else:
        assert not path.exists()


@given(parsers.re(r"my home folder has mode (?P<mode>[0-7]{3})"))
def home_mode(world: World, mode: str):
    world.sandbox.home.chmod(int(mode, 8))


@given(parsers.re(r"~/\.claude exists with mode (?P<mode>[0-7]{3})"))
def claude_dir_mode(world: World, mode: str):
    path = _path(world, "~/.claude")
    path.mkdir(exist_ok=True)
    path.chmod(int(mode, 8))


@given("~/.claude/.credentials.json already holds an older credential")
def older_file(world: World, fakes: Fakes):
    old = fakes.credential()
    path = _path(world, CREDENTIALS)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(str(old.payload) + "\n")
    path.chmod(0o600)
    world.marks["file_credential"] = old


# --------------------------------------------------------------------------- the terminal
def _secrets(world: World) -> list[str]:
    creds = [c for c in (world.credential, *world.previous) if c is not None]
    return [s for c in creds for s in (str(c.access_token), str(c.refresh_token), str(c.payload))]


@then("every command succeeds")
def all_ok(world: World):
    assert world.runs and all(all(s == 0 for s in r.statuses) for r in world.runs), world.runs


@then(parsers.re(r"the terminal shows the line '(?P<line>.+)'"))
def shows_line(world: World, line: str):
    assert line in world.screen.splitlines(), world.shell.transcript()


@then(parsers.re(r'the terminal shows the current user as "(?P<tag>\w+)"'))
def shows_user(world: World, tag: str):
    assert f'    "{tag}"<blob>="{world.account}"' in world.screen.splitlines(), world.shell.transcript()


@then(parsers.re(r'the terminal shows "(?P<text>[^"]+)"'))
def shows_text(world: World, text: str):
    assert text in world.screen, world.shell.transcript()


@then("the terminal shows no part of the credential")
def shows_no_secret(world: World):
    screen = world.screen
    leaked = sum(1 for s in _secrets(world) if s in screen or s.encode().hex() in screen)
    assert leaked == 0, f"{leaked} secret(s) on the terminal"


@then("the terminal shows the credential")
def shows_secret(world: World):
    shown = str(world.credential.payload) in world.screen
    assert shown, "the token was not on the terminal"


@then(parsers.re(r'the terminal shows the keychain info line for the login keychain with "(?P<report>[^"]+)"'))
def shows_info(world: World, report: str):
    pattern = re.compile(r'^Keychain "(?P<kc>[^"]+)"(?P<sleep> lock-on-sleep)? ' + re.escape(report) + r"$")
    lines = [m for m in map(pattern.match, world.screen.splitlines()) if m]
    assert lines, world.shell.transcript()
    assert Path(lines[-1].group("kc")) == world.sandbox.keychain.path


# --------------------------------------------------------------------------- the file
@then(parsers.re(r"~/\.claude/\.credentials\.json holds the stored credential byte for byte as valid JSON"))
def file_holds(world: World):
    path = _path(world, CREDENTIALS)
    content = path.read_text() if path.exists() else ""
    same = content == str(world.credential.payload) + "\n"
    assert same, f"the file holds {len(content)} bytes, not the stored credential"
    assert "claudeAiOauth" in json.loads(content)


@then(parsers.re(r"~/\.claude/\.credentials\.json still holds the credential from before the refresh"))
def file_holds_previous(world: World):
    same = _path(world, CREDENTIALS).read_text() == str(world.marks["file_credential"].payload) + "\n"
    assert same, "the file no longer holds the credential it held before the refresh"


@then(parsers.re(r"~/\.claude/\.credentials\.json holds (?P<size>\d+) bytes"))
def file_size(world: World, size: str):
    assert _path(world, CREDENTIALS).stat().st_size == int(size)


@then(parsers.re(r"~/\.claude/\.credentials\.json has mode (?P<mode>[0-7]{3})"))
def file_mode(world: World, mode: str):
    assert stat.S_IMODE(_path(world, CREDENTIALS).stat().st_mode) == int(mode, 8)


def _readable_by(path: Path, top: Path, read: int, search: int) -> bool:
    """Whether a user in the class whose read/search bits are `read`/`search` (group or others) can read
    `path`: the file readable and every folder from `top` down to it searchable."""
    if not stat.S_IMODE(path.stat().st_mode) & read:
        return False
    folder = path.parent
    while True:
        if not stat.S_IMODE(folder.stat().st_mode) & search:
            return False
        if folder == top or folder == folder.parent:
            return True
        folder = folder.parent


@then(parsers.re(r"~/\.claude/\.credentials\.json is not readable by another local user"))
def file_private(world: World):
    """Another local user is in the home folder's group (staff on macOS) or among the others."""
    path = _path(world, CREDENTIALS)
    assert path.exists() and path.stat().st_size > 0, "the redirect wrote nothing: the check would prove nothing"
    modes = {p: f"{stat.S_IMODE(p.stat().st_mode):03o}" for p in (path, path.parent, world.sandbox.home)}
    exposed = [who for who, r, x in (("group", stat.S_IRGRP, stat.S_IXGRP), ("others", stat.S_IROTH, stat.S_IXOTH))
               if _readable_by(path, world.sandbox.home, r, x)]
    assert not exposed, (f"readable by {' and '.join(exposed)} while it holds the token "
                         f"(modes: {', '.join(f'{p.name or p}={m}' for p, m in modes.items())})")


@then(parsers.re(r"~/\.claude/\.credentials\.json no longer exists"))
def file_gone(world: World):
    assert not _path(world, CREDENTIALS).exists(), "~/.claude/.credentials.json is still there"


@then(parsers.re(r"the credential is plaintext at rest in ~/\.claude/\.credentials\.json"))
def plaintext(world: World):
    path = _path(world, CREDENTIALS)
    out = subprocess.run(["cat", str(path)], env=world.sandbox.env, capture_output=True, text=True, check=True)
    readable = str(world.credential.access_token) in out.stdout
    assert readable, "the owner's processes cannot read the token"


@then("no credential was lost")
def nothing_lost(world: World):
    """The newest credential must survive: in the keychain item or in the file."""
    keep = world.credential
    path = _path(world, CREDENTIALS)
    in_file = path.exists() and path.read_text().rstrip("\n") == str(keep.payload)
    in_item = world.marks.get("before_typing") is not None and metadata(world) is not None
    assert in_file or in_item, ("the only copy of the credential is gone: the file holds "
                                f"{path.stat().st_size if path.exists() else 'nothing'} bytes and the item is "
                                f"{'present' if metadata(world) else 'deleted'}")


@then(parsers.re(r'the claim cannot be checked here: "(?P<reason>[^"]+)"'))
def not_checkable(reason: str):
    pytest.skip(f"not checkable: {reason}")


@then(parsers.re(r'the claim is checked by the release scenarios: "(?P<scenario>[^"]+)"'))
def checked_elsewhere(request, scenario: str):
    pytest.skip(f"checked by the release scenario {scenario!r} (run with --claude-code VERSION)")
