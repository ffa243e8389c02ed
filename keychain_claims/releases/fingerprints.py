"""How a release calls `security`, read from its JavaScript (cli.js, or the JavaScript
embedded in a native binary).  Patterns anchor on string literals, not on minified
names, so a release nobody tuned for is read the same way."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from keychain_claims import atomic
from keychain_claims.redact import redact


@dataclass
class Fingerprint:
    name: str
    status: str          # found | not found
    value: str           # what was read
    excerpt: str         # evidence (redacted)


def _text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".js":
        return data.decode("utf-8", "replace")
    # native binary: runs of printable text at least 40 long, like `strings -n 40`
    return "\n".join(m.decode("latin-1") for m in re.findall(rb"[\x20-\x7e\t]{40,}", data))


def _around(text: str, index: int, width: int = 160) -> str:
    return redact(text[max(0, index - width): index + width].replace("\n", " "))


ANCHORS = (b"generic-password", b"credentials", b"CLAUDE_CODE_OAUTH_TOKEN", b".claude.json", b"claude-code-user",
           b"CLAUDE_CONFIG_DIR", b"userInfo", b"SSH_CONNECTION", b"TMUX", b'command("auth")')


def graph_text(folder: Path) -> str:
    """The JavaScript of a written-out module graph that can hold a fingerprint: the modules that
    name one of the ANCHORS (2.1.331: a few dozen of 3,606 chunks), in name order."""
    parts = []
    for path in sorted(folder.rglob("*.js")):
        data = path.read_bytes()
        if any(a in data for a in ANCHORS):
            parts.append(data.decode("utf-8", "replace"))
    return "\n".join(parts)


# kept per version of this module: a changed pattern is read afresh, never from a stale cache
CACHE_FILE = f"fingerprints-{hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]}.json"


def of_release(release) -> dict[str, Fingerprint]:
    """A release's fingerprints: from cli.js, or from the darwin graph written out beside it, else
    from the strings of the largest file (the darwin binary, when its graph cannot be read).  For a
    release in the cache the result is kept there (fingerprints.json): xdist workers and later runs
    read it, one process computes it."""
    from keychain_claims.releases.cache import cache_dir, locked
    graph = release.preload.parent if getattr(release, "preload", None) else None
    if release.bundle:
        source = lambda: read(release.bundle)                      # noqa: E731
        folder = release.root.parent
    elif graph is not None:
        source = lambda: from_text(graph_text(graph))              # noqa: E731
        folder = graph
    else:
        files = [p for p in release.root.rglob("*") if p.is_file()]
        if not files:
            raise FileNotFoundError(f"{release.version}: the package holds no file to read; its layout changed")
        source = lambda: read(max(files, key=lambda p: p.stat().st_size))     # noqa: E731
        folder = release.root.parent
    try:
        folder.resolve().relative_to(cache_dir().resolve())
    except ValueError:                                             # an installed claude: leave its folder alone
        return source()
    cached = folder / CACHE_FILE
    with locked(folder.parent):
        try:
            return {k: Fingerprint(**v) for k, v in json.loads(cached.read_text()).items()}
        except (OSError, ValueError, TypeError):
            pass
        found = source()
        atomic.write_text(cached, json.dumps({k: asdict(v) for k, v in found.items()}), durable=False)
    return found


def read(bundle: Path) -> dict[str, Fingerprint]:
    return from_text(_text(bundle))


def from_text(text: str) -> dict[str, Fingerprint]:
    found: dict[str, Fingerprint] = {}

    def put(name, match, value, absent="not found"):
        if match is None:
            found[name] = Fingerprint(name, "not found", absent, "")
        else:
            found[name] = Fingerprint(name, "found", value, _around(text, match.start()))

    # a spawn with an argv array, or (up to 2.0.x) a shell command line `security find-generic-password …`
    spawn_abs = re.search(r"[\"'`]/usr/bin/security[\"'`]\s*,\s*\[?\s*[\"'`](?:find|add|delete)-generic-password", text) or \
        re.search(r"[\"'`]/usr/bin/security (?:find|add|delete)-generic-password", text)
    spawn_path = re.search(r"[\"'`]security[\"'`]\s*,\s*\[\s*[\"'`](?:find|add|delete)-generic-password", text) or \
        re.search(r"[\"'`]security[\"'`]\s*,\s*\[\s*[\"'`]-i[\"'`]", text) or \
        re.search(r"[\"'`]security (?:find|add|delete)-generic-password", text)
    if spawn_abs:
        put("spawn", spawn_abs, "/usr/bin/security (absolute path)")
    else:
        put("spawn", spawn_path, "security (resolved through PATH)")
    service = re.search(r"Claude Code\$\{[^}]*\}-credentials|`Claude Code\$\{|Claude Code-credentials", text)
    put("service", service, "Claude Code${suffix}-credentials${hash}" if service and "${" in service.group(0)
        else "Claude Code-credentials")
    hashed = re.search(r"CLAUDE_CONFIG_DIR[^;]{0,400}?sha256|sha256[^;]{0,400}?CLAUDE_CONFIG_DIR", text)
    put("config-dir-hash", hashed, "sha256 of the config dir")
    account = re.search(r"process\.env\.USER\s*\|\|[^;]{0,120}userInfo\(\)\.username", text) or \
        re.search(r"claude-code-user", text)
    put("account", account, "$USER, else os.userInfo().username")
    update = re.search(r"[\"'`]add-generic-password[\"'`]\s*,\s*[\"'`]-U[\"'`]|add-generic-password -U", text)
    delete_then_add = re.search(r"delete-generic-password[^;]{0,300}add-generic-password(?![^;]{0,40}-U)", text)
    if delete_then_add and not update:
        put("write", delete_then_add, "delete-then-add (re-created)")
    else:
        through_i = update and re.search(r"[\"'`]security[\"'`]\s*,\s*\[\s*[\"'`]-i[\"'`]|[\"'`]security -i[\"'`]",
                                         text[update.start(): update.start() + 600])
        put("write", update, "add-generic-password -U (update in place) "
            + ("through `security -i` stdin" if through_i else "in argv"))
    hexed = re.search(r"[\"'`]-X[\"'`]|-X \"\$\{", text)
    stdin = re.search(r"[\"'`]security[\"'`]\s*,\s*\[\s*[\"'`]-i[\"'`]|security -i", text)
    put("secret-channel", hexed and stdin or hexed or re.search(r"[\"'`]-w[\"'`]\s*,", text),
        "hex (-X) through `security -i` stdin" if hexed and stdin else ("hex (-X) in argv" if hexed else "-w in argv"))
    deletes = [m.start() for m in re.finditer(r"delete-generic-password", text)]
    found["delete"] = Fingerprint("delete", "found" if deletes else "not found", f"{len(deletes)} call site(s)",
                                  " … ".join(_around(text, i, 100) for i in deletes[:3]))
    plain = re.search(r"\.credentials\.json", text)
    mode = re.search(r"\.credentials\.json[^;]{0,600}?(?:mode\s*:\s*384|0o600|384\b)|(?:mode\s*:\s*384)[^;]{0,600}?\.credentials\.json", text)
    put("plaintext", plain, ".credentials.json" + (" mode 600" if mode else " (mode not located)"))
    named = re.search(r"CLAUDE_CODE_OAUTH_TOKEN", text)
    put("oauth-env-named", named, "the code reads CLAUDE_CODE_OAUTH_TOKEN", absent="no CLAUDE_CODE_OAUTH_TOKEN in its code")
    oauth = re.search(r"CLAUDE_CODE_OAUTH_TOKEN[^;]{0,200}?(?:accessToken|refreshToken\s*:\s*null)", text)
    put("oauth-env", oauth, "short-circuits reads (accessToken from the environment)")
    # near the credential store: the `.credentials.json` the plaintext store is built on (not the first
    # mention: 2.1.288 names the file first in a permission deny-list beside a list of env names), and
    # an env *lookup* (`.SSH_CONNECTION`, `["TMUX"]`), not a name in a list
    store = next((m for m in re.finditer(r"\.credentials\.json", text)
                  if re.search(r"plaintext|storagePath|writeFileSync", text[m.start() - 600: m.start() + 600])), plain)
    gui = re.search(r"\.(?:SSH_CONNECTION|SSH_CLIENT|SSH_TTY|TMUX)\b|\[[\"'`](?:SSH_CONNECTION|SSH_CLIENT|SSH_TTY|TMUX)[\"'`]\]",
                    text[max(0, store.start() - 20000): store.start() + 20000] if store else "")
    found["gui-detection"] = Fingerprint("gui-detection", "found" if gui else "not found",
                                         "SSH/tmux checked near the credential store" if gui
                                         else "no SSH/tmux/GUI check near the credential store", "")
    # whether a failed keychain write is seen as one: the store's update returns success after calling
    # an exec helper; a helper that never throws (`reject:!1` and a catch that returns null) hides the
    # failure, so the file fallback is never reached (1.0.70, 2.0.30; 1.0.57's execSync throws)
    exit_status = None
    if update:
        after = text[update.start(): update.start() + 400]
        helper = re.search(r"return\s+([\w$]+)\([\w$]+\)\s*,\s*\{\s*success\s*:\s*!0", after)
        body = re.search(rf"function {re.escape(helper.group(1))}\([^)]*\)\{{.{{0,700}}", text) if helper else None
        if body:
            swallowed = "reject:!1" in body.group(0) and re.search(r"catch(?:\([\w$]*\))?\{return null\}", body.group(0))
            exit_status = Fingerprint("write-exit-status", "found",
                                      "ignored (the exec helper never reports a failure)" if swallowed
                                      else "checked (the exec helper throws on a failure)", _around(text, body.start()))
        elif re.search(r"exitCode\s*!==\s*0\s*\)\s*return\s*\{\s*success\s*:\s*!1", after + text[update.start() + 400: update.start() + 900]):
            exit_status = Fingerprint("write-exit-status", "found", "checked (a non-zero exit is a failed write)",
                                      _around(text, update.start()))
    found["write-exit-status"] = exit_status or Fingerprint("write-exit-status", "not found", "not found", "")
    # the subcommands a scenario can read or log out with: `claude auth status|logout` (commander's
    # `.command("auth")` with its own `.command("status")` / `.command("logout")` right after it)
    auth = re.search(r"\.command\([\"'`]auth[\"'`]\)", text)
    near = text[auth.start(): auth.start() + 8000] if auth else ""
    subs = [f"auth {name}" for name in ("status", "logout")
            if re.search(rf"\.command\([\"'`]{name}[\"'`]\)", near)]
    found["subcommands"] = Fingerprint("subcommands", "found" if subs else "not found",
                                       ", ".join(subs) if subs else "no auth subcommands (only -p reads)",
                                       _around(text, auth.start()) if auth else "")
    config = re.search(r"\.claude\.json", text)
    put("config", config, ".claude.json")
    return found
