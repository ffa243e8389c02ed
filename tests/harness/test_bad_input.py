"""Bad input gets a one-line reason (or a skip with it), never a traceback (issue 7)."""
from __future__ import annotations

import json

import pytest

from keychain_claims.backends import Backend, BackendError, SimBackend
from keychain_claims.releases.cache import ReleaseError
from keychain_claims.releases.versions import parse_spec
from keychain_claims.harness.sandbox import Sandbox


class Missing(Backend):
    name = "missing"

    def unavailable(self):
        return None

    def security_command(self):
        return ["/nonexistent/security"]

    def set_session(self, sandbox, gui):        # the world's actions: never reached
        raise NotImplementedError

    advance_clock = restart = as_caller = set_session


def test_missing_security_is_one_line():
    with Sandbox(Missing()) as box, pytest.raises(BackendError) as info:
        box.prepare()
    message = str(info.value)
    assert message.startswith("could not prepare the scratch keychain: the sandbox's security could not be started "
                              "(exit 127: ")
    assert "\n" not in message


class Occupied(SimBackend):
    """The scratch keychain's file is already there, so create-keychain fails (errSecDuplicateKeychain, -25296)."""

    def scratch_keychain_commands(self, sandbox):
        sandbox.keychain.path.write_text("")
        return super().scratch_keychain_commands(sandbox)


def test_a_failed_setup_command_is_named_in_one_line():
    with Sandbox(Occupied()) as box, pytest.raises(BackendError) as info:
        box.prepare()
    message = str(info.value)
    assert message == ("could not prepare the scratch keychain: security create-keychain returned -25296: "
                       f"security: SecKeychainCreate {box.keychain.path}: "
                       "A keychain with the same name already exists.")


@pytest.mark.suite
def test_unwritable_reports_dir_is_one_line(run_suite, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_suite("--backend=sim", "-k", "once_allowed", f"--reports-dir={blocker / 'reports'}")
    assert result.returncode == 4           # refused before anything ran (it used to run, then fail to write)
    assert f"--reports-dir={blocker / 'reports'} is not a writable folder" in result.stderr
    assert "make the directory writable or pass --reports-dir" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_empty_claude_code_spec_is_a_usage_error():
    with pytest.raises(ReleaseError, match="--claude-code needs a version"):
        parse_spec(" , ")


@pytest.mark.suite
@pytest.mark.parametrize("spec, env, reason", [
    ("2.1.81", {"npm_config_registry": "http://127.0.0.1:9/", "npm_config_fetch_retries": "0"},   # no back-off: 70 s
     "the npm registry did not answer"),
])
def test_release_problems_skip_with_a_reason(run_suite, tmp_path, spec, env, reason):
    env = {"KEYCHAIN_CLAIMS_CACHE": str(tmp_path / "cache"), **env}
    result = run_suite("--backend=sim", "-k", "keeps_its_configuration", f"--claude-code={spec}", "-rs", env=env)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 skipped" in result.stdout and reason in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.suite
@pytest.mark.parametrize("spec, reason", [
    ("0.0.1-does-not-exist", "never published 0.0.1-does-not-exist"),
    ("/nonexistent/claude", "no such file; pass a version, `latest`, or the path of an installed claude"),
])
def test_a_release_that_names_nothing_stops_the_run_in_one_line(run_suite, tmp_path, spec, reason):
    result = run_suite("--backend=sim", "-k", "keeps_its_configuration", f"--claude-code={spec}",
                       env={"KEYCHAIN_CLAIMS_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 4, result.stdout[-2000:]
    assert reason in result.stdout + result.stderr and "Traceback" not in result.stdout + result.stderr


@pytest.mark.release
def test_corrupt_cache_is_downloaded_again(tmp_path):
    from keychain_claims.releases import registry
    import os
    os.environ["KEYCHAIN_CLAIMS_CACHE"] = str(tmp_path)
    try:
        version, entry = registry.fetch("2.1.81")
        (entry / "package" / "cli.js").write_bytes(b"corrupt")
        again_version, again = registry.fetch("2.1.81")
        assert again_version == version and (again / "package" / "cli.js").stat().st_size > 1_000_000
    finally:
        del os.environ["KEYCHAIN_CLAIMS_CACHE"]


@pytest.mark.suite
def test_parallel_run_gives_the_same_verdicts_as_serial(run_suite, tmp_path):
    serial = run_suite("--backend=sim", f"--reports-dir={tmp_path / 'serial'}")
    parallel = run_suite("--backend=sim", "-n", "2", f"--reports-dir={tmp_path / 'parallel'}")
    assert serial.returncode == parallel.returncode == 0
    verdicts = lambda d: {(c["claim"], c["verdict"]) for c in json.loads((d / "claims.json").read_text())["claims"]}  # noqa: E731
    assert verdicts(tmp_path / "serial") == verdicts(tmp_path / "parallel")
