"""Ranges of published releases: `A..B` (every published version from A to B inclusive, in
registry order; `latest` allowed as B) and `last:N` (the N newest), and the releases a whole
`--claude-code SPEC` names (its items classified once, releases/spec.py).

The registry's list is asked for once (`npm view PACKAGE versions dist-tags --json`) and kept
beside the release cache for a few minutes (`KEYCHAIN_CLAIMS_VERSIONS_TTL`, seconds), so a run's
xdist workers, started right after their controller resolved the list, read the controller's
copy instead of each asking npm (a worker never refreshes it: its parametrization must be the
controller's).

Registry order is the order of npm's `versions` list.  The `time` document is not used for
order: on this registry its timestamps are not monotone (2.0.44 is stamped after 2.1.x)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from keychain_claims import atomic
from keychain_claims.releases import npm
from keychain_claims.releases.cache import ReleaseError, cache_dir, locked
from keychain_claims.releases.manifests import ENTRY_FILE, read_doc
from keychain_claims.releases.npm import PACKAGE
from keychain_claims.releases.registry import claude_at
from keychain_claims.releases.spec import LATEST, Kind, ReleaseSpec, SpecItem

TTL = 600                       # seconds the cached list is trusted by a controller
LIST_FILE = "versions.json"


def _list_file(package: str) -> Path:
    folder = cache_dir() / package.replace("/", "+")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / LIST_FILE


def _ttl() -> float:
    try:
        return float(os.environ.get("KEYCHAIN_CLAIMS_VERSIONS_TTL", TTL))
    except ValueError:
        return TTL


def published(package: str = PACKAGE) -> tuple[list[str], dict[str, str]]:
    """(every published version in registry order, dist-tags): from the file beside the release
    cache when it is fresh (or when this is an xdist worker), else from npm, once."""
    path = _list_file(package)
    worker = "PYTEST_XDIST_WORKER" in os.environ
    with locked(path.parent):
        try:
            age = time.time() - path.stat().st_mtime     # a list stamped in the future (a clock that was
            fresh = worker or 0 <= age < _ttl()           # ahead) is not trusted for as long as the skew
            if fresh:
                doc = json.loads(path.read_text())
                return list(doc["versions"]), dict(doc["dist-tags"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        out = npm.run("view", package, "versions", "dist-tags", "--json")
        try:
            doc = json.loads(out)
            versions, tags = doc["versions"], doc["dist-tags"]
            if isinstance(versions, str):
                versions = [versions]
        except (ValueError, KeyError, TypeError):
            raise ReleaseError(f"npm view {package} versions gave no usable JSON; update npm and retry") from None
        atomic.write_text(path, json.dumps({"versions": versions, "dist-tags": tags}), durable=False)
        return list(versions), dict(tags)


def _index(version: str, versions: list[str], tags: dict[str, str], package: str) -> int:
    wanted = tags.get(version, version)
    if wanted in versions:
        return versions.index(wanted)
    if SpecItem.of(version).kind is Kind.VERSION or version in tags:
        raise ReleaseError(f"{version} is not a published version of {package}; "
                           f"see `npm view {package} versions`")
    raise ReleaseError(f"{version!r} is neither a version nor `latest`; write a range as A..B "
                       "(e.g. 2.0.30..2.0.76 or 2.1.300..latest) or last:N")


def between(good: str, bad: str, package: str = PACKAGE) -> list[str]:
    """Every published version from `good` to `bad` inclusive, in registry order."""
    versions, tags = published(package)
    a, b = _index(good, versions, tags, package), _index(bad, versions, tags, package)
    if b < a:
        raise ReleaseError(f"{bad} was published before {good}: a range runs from the older to the newer, "
                           f"{versions[b]}..{versions[a]}")
    return versions[a:b + 1]


def expand(item: SpecItem, package: str = PACKAGE) -> list[str]:
    """A range (`A..B`, `last:N`) -> its versions; anything else -> [its text]."""
    if item.kind is Kind.LAST:
        versions, _ = published(package)
        return versions[-item.count:]
    if item.kind is Kind.RANGE:
        return between(item.start, item.end, package)
    return [item.text]


def chunks(versions: list[str], size: int) -> list[list[str]]:
    """Consecutive runs of at most `size` versions: one CI job each in a sweep."""
    if size < 1:
        raise ReleaseError(f"chunks of {size} releases: give a size of at least 1")
    return [versions[i:i + size] for i in range(0, len(versions), size)]


def job_matrix(spec: str, size: int) -> dict:
    """A GitHub Actions matrix for a sweep: one entry per chunk, `releases` a comma list for
    --claude-code, `name` what the job is called."""
    found = parse_spec(spec)
    if not found:
        raise ReleaseError("the range holds no release; give A..B, last:N or a comma list")
    if size > CHUNK_MAX:
        raise ReleaseError(f"chunks of {size} releases: a sweep job caches at most {CHUNK_MAX} releases; "
                           f"give a size from 1 to {CHUNK_MAX}")
    return {"include": [{"name": f"{part[0]}..{part[-1]}" if len(part) > 1 else part[0], "releases": ",".join(part),
                         **{f"v{i}": v for i, v in enumerate(part)}}
                        for part in chunks(found, size)]}


CHUNK_MAX = 10      # releases per sweep job: sweep.yml restores one actions/cache entry per release (v0..v9)


def parse_spec(spec: str | None) -> list[str]:
    """A --claude-code SPEC -> the releases it names; ReleaseError (one line) when an item names
    nothing: a version the registry never published, a word that is no tag, a path that is no claude."""
    if not spec:
        return []
    parsed = ReleaseSpec.parse(spec)
    found = list(dict.fromkeys(v for item in parsed.items for v in expand(item)))
    for release in found:
        check_item(SpecItem.of(release))
    return found


def check_item(item: SpecItem) -> None:
    """One release of a spec resolves to something: a published version (asked of the registry's
    list, which is kept; offline, a version the cache holds or any well-formed one), a dist-tag,
    or the path of a claude."""
    cache_dir()                              # unusable: one line now, not a traceback later
    if item.text == LATEST:
        return
    if item.kind is Kind.PATH:
        if not item.path.exists():
            raise ReleaseError(f"--claude-code {item.text}: no such file; pass a version, `latest`, or the path of an installed claude")
        claude_at(item.path)
        return
    version = item.kind is Kind.VERSION
    if version and read_doc(cache_dir() / "releases" / item.text / ENTRY_FILE):
        return                               # cached: published once, and no network needed
    try:
        versions, tags = published()
    except ReleaseError:
        if version:
            return                           # offline: the release is looked for in the cache, or not checkable
        raise ReleaseError(f"--claude-code {item.text!r} is neither a version (e.g. 2.1.81), `latest`, a range "
                           "(A..B, last:N) nor the path of a claude") from None
    if item.text in tags or item.text in versions:
        return
    if version:
        raise ReleaseError(f"--claude-code {item.text}: {PACKAGE} never published {item.text}; "
                           f"see `keychain-claims versions last:5` or `npm view {PACKAGE} versions`")
    raise ReleaseError(f"--claude-code {item.text!r} is neither a version (e.g. 2.1.81), a tag "
                       f"({', '.join(sorted(tags)) or 'latest'}), a range (A..B, last:N) nor the path of a claude")
