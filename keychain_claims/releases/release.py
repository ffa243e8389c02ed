"""A release as the run uses it: where its code is, in which form, and what runs it here."""
from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from keychain_claims.releases.manifests import RUNTIME_FILE, read_doc
from keychain_claims.releases.npm import host_platform


@dataclass
class Release:
    version: str
    root: Path                    # js: the package folder (cli.js); native: the darwin graph folder
    form: str                     # js | native | installed
    host_root: Path | None = None     # native: the runtime folder that runs the graph here
    preload: Path | None = None       # native, not on a Mac: makes an Anthropic runtime start the darwin entry
    graph_error: str | None = None    # native: why the darwin graph could not be read (fingerprints only)
    runtime: str | None = None        # native: the runtime's id (runtimes/<id>)
    runtime_kind: str | None = None   # claude (an Anthropic runtime, entered through the preload) | bun
    entry: Path | None = None         # native: the darwin entry point, written out
    embedded: Path | None = None      # native: a copy of the runtime that carries the darwin graph (host/claude)
    embed_error: str | None = None    # native: why there is none (the graph then runs written out, from source)
    size: int = 0                     # bytes the release's own entry holds in the cache (its runtime copy too)
    notes: list[str] = field(default_factory=list)
    bundle_name: str = "cli.js"       # js: the entry (cli.js; 0.2.x: cli.mjs)
    # what its code does (releases/fingerprints.py), read once: the object lives as long as the run holds it
    fingerprints: dict | None = field(default=None, repr=False, compare=False)

    @property
    def bundle(self) -> Path | None:
        cli = self.root / self.bundle_name
        return cli if self.form == "js" and cli.exists() else None

    @property
    def host_binary(self) -> Path | None:
        """The executable that runs here: the runtime with the darwin graph embedded, else the
        runtime itself (native), or the installed claude."""
        if self.form == "native":
            if self.embedded is not None:
                return self.embedded
            return runtime_binary(self.host_root) if self.host_root else None
        return binary(self.host_root or self.root)

    @property
    def runnable_here(self) -> str | None:
        """None when this host can run the release on the macOS code path, else why not."""
        if self.form == "js":
            return None if shutil.which("node") else "node is not installed"
        if self.form == "native":
            if self.graph_error:
                return f"{self.graph_error}"
            if self.host_binary is None:
                return f"{self.version}: no runtime for its graph on {host_platform()}"
            return None
        if sys.platform == "darwin":
            return None
        return f"{self.version} is an installed claude: on this host it has no macOS keychain code; run it on a Mac"

    def __repr__(self) -> str:
        return f"<Claude Code {self.version} ({self.form})>"


def binary(root: Path) -> Path | None:
    """The `claude` executable of an unpacked platform package (`claude`, or `bin/claude`)."""
    for candidate in (root / "claude", root / "bin" / "claude", root / "claude.exe"):
        if candidate.is_file():
            return candidate
    return None


def runtime_binary(folder: Path | None) -> Path | None:
    doc = read_doc(folder / RUNTIME_FILE) if folder else None
    return folder / doc["binary"] if doc and (folder / doc["binary"]).is_file() else None


