"""A release that cannot be had (the registry does not answer, no such version, no such file) skips or
stops the run with one line, never a traceback; a corrupt cache entry is fetched again
(keychain_claims/releases/registry.py)."""
from __future__ import annotations

import pytest


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
