"""A loopback stand-in for the Anthropic API, so `claude -p` finishes in seconds offline.
Answers every POST with one streamed (SSE) or plain message saying "pong"; with the OAuth
stand-in joined (keychain_claims.releases.standin) it also answers the token endpoint
(`POST /v1/oauth/token`), the profile (`GET /api/oauth/profile`) and the client settings
(`GET /api/oauth/claude_cli/client_data`), and records every request."""
from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TEXT = "pong"
REQUESTS = "requests.jsonl"      # in the stand-in's folder: every request that arrived
OAUTH = "oauth.json"             # in the stand-in's folder: what the token endpoint answers
EXPIRED = "expired.json"         # in the stand-in's folder: digests of access tokens that have expired
EXPIRED_ANSWER = {"type": "error", "error": {"type": "authentication_error",
                                             "message": "OAuth token has expired. Please obtain a new token or refresh your existing token."}}
PROFILE = {"account": {"uuid": "00000000-0000-4000-8000-000000000001", "email": "user@example.invalid",
                       "display_name": "Keychain Claims"},
           "organization": {"uuid": "00000000-0000-4000-8000-000000000002", "name": "Keychain Claims",
                            "organization_type": "claude_pro", "rate_limit_tier": "default_claude_ai"}}


# What a release reads at start-up as `response.data.client_data` and keeps for the session: an
# object of server-side settings.  Releases 2.0.4x-2.0.7x read `.effortLevel` off it unguarded when
# they build a model request; answered as the catch-all `{"data": [], ...}`, their query threw
# ("Execution error") whenever that fetch won the race with the prompt -- the refresh scenarios of
# the family were then not checkable, run by run.  No settings: an empty object, the releases' own
# default.
CLIENT_DATA: dict[str, dict] = {"client_data": {}}


def _message(model: str) -> dict:
    return {"id": "msg_keychain_claims", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": TEXT}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1}}


def credential_digest(credential: str) -> str:
    """What the stand-in keeps of a credential a request carried: enough to tell which one it was."""
    return "sha256:" + hashlib.sha256(credential.encode()).hexdigest()[:16]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):     # quiet
        pass

    def do_GET(self):
        self._record()
        if self.path.startswith("/api/oauth/profile"):
            return self._json(PROFILE)
        if self.path.startswith("/api/oauth/claude_cli/client_data"):
            return self._json(CLIENT_DATA)
        self._json({"data": [], "has_more": False})

    def do_HEAD(self):
        self.send_response(200)
        self.end_headers()

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            body = {}
        self._record(body)
        if self.path.startswith("/v1/oauth/token"):
            return self._token(body)
        if self._expired():            # as the API answers an expired OAuth token: a release may refresh on it
            return self._json(EXPIRED_ANSWER, 401)
        model = body.get("model", "claude")
        if "count_tokens" in self.path:
            return self._json({"input_tokens": 1})
        if not body.get("stream"):
            return self._json(_message(model))
        msg = _message(model)
        events = [
            ("message_start", {"type": "message_start", "message": {**msg, "content": [], "stop_reason": None}}),
            ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": TEXT}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {"output_tokens": 1}}),
            ("message_stop", {"type": "message_stop"}),
        ]
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.end_headers()
        for name, data in events:
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def _record(self, body: dict | None = None) -> None:
        """One line per request in the stand-in's folder (requests.jsonl): what arrived, where."""
        folder = getattr(self.server, "folder", None)
        if folder is None:
            return
        row = {"method": self.command, "host": getattr(self, "tls_host", None) or self.headers.get("host", ""),
               "path": self.path}
        bearer = self.headers.get("authorization", "")
        credential = bearer[7:].strip() if bearer.lower().startswith("bearer ") else self.headers.get("x-api-key", "")
        if credential:       # which credential the release sent, never the credential itself
            row.update({"credential": credential_digest(credential), "credential_kind": "bearer" if bearer else "api-key"})
        if isinstance(body, dict) and "grant_type" in body:
            row.update({k: body.get(k) for k in ("grant_type", "refresh_token", "client_id", "scope")})
        with open(Path(folder) / REQUESTS, "a") as fh:
            fh.write(json.dumps(row) + "\n")

    def _expired(self) -> bool:
        folder = getattr(self.server, "folder", None)
        bearer = self.headers.get("authorization", "")
        if folder is None or not bearer.lower().startswith("bearer "):
            return False
        try:
            expired = json.loads((Path(folder) / EXPIRED).read_text())
        except (OSError, ValueError):
            return False
        return credential_digest(bearer[7:].strip()) in expired

    def _token(self, body: dict) -> None:
        """The token endpoint: the answer the scenario put in oauth.json (the refreshed credential),
        or 400 invalid_grant when there is none."""
        folder = getattr(self.server, "folder", None)
        try:
            answer = json.loads((Path(folder) / OAUTH).read_text()) if folder else None
        except (OSError, ValueError):
            answer = None
        if not answer or body.get("grant_type") != "refresh_token":
            return self._json({"error": "invalid_grant", "error_description": "no refresh expected"}, 400)
        return self._json({"token_type": "Bearer", "expires_in": 28800, "refresh_token_expires_in": 2592000,
                           "scope": "user:inference user:profile", **answer})

    def _json(self, data: dict, status: int = 200) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


POLL_INTERVAL = 0.05   # shutdown() waits up to one interval; the default 0.5 s was paid after every run


class Server(ThreadingHTTPServer):
    folder: Path | None = None     # where the stand-in keeps what it was sent (Handler reads it)


def serve(folder: Path | None = None) -> tuple[Server, int]:
    server = Server(("127.0.0.1", 0), Handler)
    server.folder = folder
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL}, daemon=True).start()
    return server, server.server_address[1]
