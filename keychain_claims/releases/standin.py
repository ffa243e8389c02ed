"""What a release talks to instead of the network: the Messages stand-in (api.py) on loopback, and
behind an HTTPS proxy on loopback the OAuth stand-in for `platform.claude.com` / `api.anthropic.com`.
The proxy answers `CONNECT` and terminates TLS itself with a certificate from a throwaway CA made
per sandbox, trusted by the release through NODE_EXTRA_CA_CERTS (see
../shared/reference/release-refresh.md).  No root, no hosts file: the same route works on a Mac.

    make_ca(folder)      the CA and the stand-in's certificate (needs `trustme`; the parent does it)
    start(folder)        the servers, in this process; returns (env for the release, stop)
Serving needs only the standard library, so it also runs inside `unshare -n` (netns.py)."""
from __future__ import annotations

import datetime
import io
import json
import urllib.parse
import socketserver
import ssl
import threading
from collections.abc import Callable
from pathlib import Path

from keychain_claims.atomic import read_jsonl
from keychain_claims.errors import ReleaseProblem
from keychain_claims.releases import api
from keychain_claims.releases.api import Server as ApiServer

HOSTS = ("platform.claude.com", "api.anthropic.com", "claude.ai", "console.anthropic.com")
CA_FILE, CERT_FILE, KEY_FILE = "ca.pem", "standin.pem", "standin.key"
ERROR_FILE = "error"                 # why the stand-in could not start (inside unshare -n)
CONNECTS = "connects.jsonl"          # every CONNECT the proxy was asked for, answered or refused


class StandInError(ReleaseProblem):
    """One line: why the stand-in cannot be made or started."""


def make_ca(folder: Path) -> Path:
    """A CA that lives for this sandbox only (trustme), and a certificate for HOSTS, localhost and
    127.0.0.1 signed by it, valid for a day.  Returns the CA's PEM (for NODE_EXTRA_CA_CERTS).  The
    keys exist only in memory and in `folder` (the sandbox's), the stand-in's key readable by its
    owner only.  ECDSA keys: made in milliseconds."""
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / CA_FILE).exists() and (folder / CERT_FILE).exists():
        return folder / CA_FILE
    try:
        import trustme
    except ImportError:
        raise StandInError("the `trustme` package is missing: reinstall with `pip install -e .`") from None
    now = datetime.datetime.now(datetime.timezone.utc)
    ca = trustme.CA(organization_name="keychain-claims throwaway CA", key_type=trustme.KeyType.ECDSA)
    leaf = ca.issue_cert(*HOSTS, "localhost", "127.0.0.1", common_name=HOSTS[0], key_type=trustme.KeyType.ECDSA,
                         not_before=now - datetime.timedelta(hours=1), not_after=now + datetime.timedelta(days=1))
    leaf.private_key_pem.write_to_path(str(folder / KEY_FILE))
    (folder / KEY_FILE).chmod(0o600)
    (folder / CERT_FILE).write_bytes(b"".join(pem.bytes() for pem in leaf.cert_chain_pems))
    ca.cert_pem.write_to_path(str(folder / CA_FILE))
    return folder / CA_FILE


class _Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    folder: Path
    tls: ssl.SSLContext
    api: ApiServer
    messages: set[str]


class _Connect(socketserver.StreamRequestHandler):
    """`CONNECT host:443`: for the stand-in's hosts, TLS is terminated here and the request goes
    to api.Handler; anything else (another host, plain HTTP through the proxy) is refused."""
    server: _Proxy

    def handle(self):
        raw = self.rfile.readline(8192)
        line = raw.decode("latin-1").strip()
        headers = []
        while (header := self.rfile.readline(8192)) not in (b"\r\n", b"\n", b""):
            headers.append(header)
        method, _, rest = line.partition(" ")
        target = rest.split(" ")[0]
        if method != "CONNECT" and target.startswith("https://"):
            return self._forwarded(method, target, rest, headers)
        host = target.rsplit(":", 1)[0]
        # a release that ignores NO_PROXY (1.0.70 does) tunnels even to the Messages stand-in on loopback
        to_messages = method == "CONNECT" and target in self.server.messages
        allowed = method == "CONNECT" and (host in HOSTS or to_messages)
        with open(self.server.folder / CONNECTS, "a") as fh:
            fh.write(json.dumps({"method": method, "target": target, "answered": allowed}) + "\n")
        if not allowed:
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        self.wfile.flush()
        if to_messages:           # plain HTTP inside the tunnel, answered by the same stand-in
            try:
                api.Handler(self.connection, self.client_address, self.server.api)
            except OSError:
                pass
            return
        try:
            tls = self.server.tls.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError) as exc:            # e.g. the release rejected our CA
            with open(self.server.folder / CONNECTS, "a") as fh:
                fh.write(json.dumps({"method": "TLS", "target": target, "answered": False,
                                     "error": str(exc)[:200]}) + "\n")
            return
        handler = type("TLSHandler", (api.Handler,), {"tls_host": host})
        try:
            handler(tls, self.client_address, self.server.api)
        except (ssl.SSLError, OSError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass


    def _forwarded(self, method: str, target: str, rest: str, headers: list[bytes]) -> None:
        """`GET https://host/path` sent to the proxy as it is (axios's own proxy support, 2.0.76, does not
        tunnel): for the stand-in's hosts the request is answered here, as if it had come through TLS."""
        url = urllib.parse.urlsplit(target)
        allowed = url.hostname in HOSTS
        with open(self.server.folder / CONNECTS, "a") as fh:
            fh.write(json.dumps({"method": method, "target": f"{url.scheme}://{url.hostname}{url.path}",
                                 "answered": allowed}) + "\n")
        if not allowed:
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            return
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        version = rest.split(" ", 1)[1] if " " in rest else "HTTP/1.1"
        prefix = f"{method} {path} {version}\r\n".encode("latin-1") + b"".join(headers) + b"\r\n"
        outer = self.rfile

        class Forwarded(api.Handler):
            tls_host = url.hostname

            def setup(self):
                super().setup()
                self.rfile = io.BufferedReader(_Replay(prefix, outer))
        try:
            Forwarded(self.connection, self.client_address, self.server.api)
        except OSError:
            pass


class _Replay(io.RawIOBase):
    """What was already read from a connection, then the rest of it."""

    def __init__(self, prefix: bytes, rest):
        self.prefix, self.rest = prefix, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.prefix:
            n = min(len(buffer), len(self.prefix))
            buffer[:n], self.prefix = self.prefix[:n], self.prefix[n:]
            return n
        data = self.rest.read1(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def start(folder: Path) -> tuple[dict[str, str], Callable[[], None]]:
    """Start the Messages stand-in and the proxy on 127.0.0.1 (free ports); returns the release's
    environment for them and a function that stops both."""
    folder = Path(folder)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        tls.load_cert_chain(folder / CERT_FILE, folder / KEY_FILE)
    except (OSError, ssl.SSLError) as exc:
        raise StandInError(f"the stand-in's certificate in {folder} cannot be loaded: {exc}") from None
    server, port = api.serve(folder)
    try:
        proxy = _Proxy(("127.0.0.1", 0), _Connect)
    except OSError as exc:
        server.shutdown()
        raise StandInError(f"the HTTPS proxy cannot listen on 127.0.0.1: {exc}") from None
    proxy.folder, proxy.tls, proxy.api = folder, tls, server
    proxy.messages = {f"127.0.0.1:{port}", f"localhost:{port}"}
    threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": api.POLL_INTERVAL}, daemon=True).start()
    proxy_url = f"http://127.0.0.1:{proxy.server_address[1]}"
    env = {"ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",
           "HTTPS_PROXY": proxy_url, "https_proxy": proxy_url, "HTTP_PROXY": proxy_url, "http_proxy": proxy_url,
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
           "NODE_EXTRA_CA_CERTS": str(folder / CA_FILE)}

    def stop() -> None:
        proxy.shutdown()
        proxy.server_close()
        server.shutdown()
        server.server_close()
    return env, stop


def requests(folder: Path) -> list[dict]:
    """Every request that reached the stand-in (Messages, token endpoint, profile, ...)."""
    return read_jsonl(Path(folder) / api.REQUESTS)


def connects(folder: Path) -> list[dict]:
    return read_jsonl(Path(folder) / CONNECTS)


def set_token_answer(folder: Path, answer: dict | None) -> None:
    """What the token endpoint answers next (access_token, refresh_token, ...); None: 400 invalid_grant."""
    path = Path(folder) / api.OAUTH
    folder.mkdir(parents=True, exist_ok=True)
    if answer is None:
        path.unlink(missing_ok=True)
        return
    path.write_text(json.dumps(answer))
    path.chmod(0o600)


def set_expired(folder: Path, access_tokens: list[str]) -> None:
    """Access tokens the Messages stand-in answers with 401 "OAuth token has expired" (kept as digests)."""
    folder.mkdir(parents=True, exist_ok=True)
    (Path(folder) / api.EXPIRED).write_text(json.dumps([api.credential_digest(t) for t in access_tokens]))
