"""The stand-in a release talks to instead of the network: the token endpoint and the profile behind
an HTTPS CONNECT proxy on loopback, with a certificate from a CA made for the sandbox; every
request recorded; other hosts refused; a client that does not trust the CA is recorded as such."""
from __future__ import annotations

import http.client
import json
import ssl
import time

import pytest

from keychain_claims.releases import standin


@pytest.fixture
def served(tmp_path):
    ca = standin.make_ca(tmp_path)
    env, stop = standin.start(tmp_path)
    yield tmp_path, ca, env
    stop()


def _through_proxy(env: dict, host: str, ca=None) -> http.client.HTTPSConnection:
    port = int(env["HTTPS_PROXY"].rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=str(ca)) if ca else ssl.create_default_context()
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    conn.set_tunnel(host, 443)
    return conn


def test_a_refresh_through_the_proxy_reaches_the_token_endpoint(served):
    folder, ca, env = served
    standin.set_token_answer(folder, {"access_token": "new-access", "refresh_token": "new-refresh"})
    conn = _through_proxy(env, "platform.claude.com", ca)
    conn.request("POST", "/v1/oauth/token", json.dumps({"grant_type": "refresh_token", "refresh_token": "old",
                                                        "client_id": "c", "scope": "user:inference"}),
                 {"content-type": "application/json"})
    answer = json.loads(conn.getresponse().read())
    assert (answer["access_token"], answer["refresh_token"]) == ("new-access", "new-refresh")
    assert answer["expires_in"] > 0
    profile = _through_proxy(env, "api.anthropic.com", ca)
    profile.request("GET", "/api/oauth/profile")
    assert "account" in json.loads(profile.getresponse().read())
    seen = standin.requests(folder)
    assert [(r["host"], r["path"]) for r in seen] == [("platform.claude.com", "/v1/oauth/token"),
                                                     ("api.anthropic.com", "/api/oauth/profile")]
    assert seen[0]["refresh_token"] == "old"


def test_without_an_answer_the_token_endpoint_says_invalid_grant(served):
    folder, ca, env = served
    conn = _through_proxy(env, "platform.claude.com", ca)
    conn.request("POST", "/v1/oauth/token", json.dumps({"grant_type": "refresh_token", "refresh_token": "x"}))
    response = conn.getresponse()
    assert response.status == 400 and json.loads(response.read())["error"] == "invalid_grant"


def test_other_hosts_are_refused(served):
    folder, ca, env = served
    conn = _through_proxy(env, "example.com", ca)
    with pytest.raises(OSError, match="403"):
        conn.request("GET", "/")
    assert standin.connects(folder) == [{"method": "CONNECT", "target": "example.com:443", "answered": False}]


def test_a_client_that_does_not_trust_the_ca_is_recorded(served):
    folder, ca, env = served
    conn = _through_proxy(env, "platform.claude.com")             # the system's CAs only
    with pytest.raises(ssl.SSLCertVerificationError):
        conn.request("POST", "/v1/oauth/token", "{}")
    conn.close()
    for _ in range(100):                                           # the proxy records after its handshake
        if any(c["method"] == "TLS" for c in standin.connects(folder)):
            break
        time.sleep(0.02)
    assert [c["method"] for c in standin.connects(folder)] == ["CONNECT", "TLS"]
    assert standin.requests(folder) == []


def test_the_messages_stand_in_is_plain_loopback(served):
    folder, ca, env = served
    host, port = env["ANTHROPIC_BASE_URL"].removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", "/v1/messages", json.dumps({"model": "m"}))
    assert json.loads(conn.getresponse().read())["content"][0]["text"] == "pong"
    assert env["NO_PROXY"] == "127.0.0.1,localhost" and env["NODE_EXTRA_CA_CERTS"] == str(ca)
