"""Where `security` comes from.

A Backend is chosen once per run (`--backend auto|macos|sim`).  Like jaraco/keyring's
backends each has a priority and says whether it can run here; `auto` takes the best
available one.  Every result names the backend: a simulated pass is evidence about
the model, not about macOS.
"""
from __future__ import annotations

from keychain_claims.backends.base import Backend, BackendError, BackendSkipped, python_shim, skip_here
from keychain_claims.backends.macos import MacOSBackend
from keychain_claims.backends.rehearsal import RehearsalBackend
from keychain_claims.backends.sim import SimBackend

__all__ = ["Backend", "BackendError", "BackendSkipped", "MacOSBackend", "RehearsalBackend", "SimBackend",
           "BACKENDS", "CHOICES", "select", "python_shim", "skip_here"]

CHOICES = ("auto", "macos", "sim", "rehearsal")


BACKENDS: dict[str, type[Backend]] = {"macos": MacOSBackend, "sim": SimBackend, "rehearsal": RehearsalBackend}


def select(name: str) -> Backend:
    """Resolve `--backend`.  Raises BackendError with a one-line reason."""
    if name not in CHOICES:
        raise BackendError(f"unknown backend {name!r}; choose one of: {', '.join(CHOICES)}")
    if name == "auto":
        candidates = sorted((cls() for cls in BACKENDS.values()), key=lambda b: -b.priority)
        for backend in candidates:
            if backend.unavailable() is None:
                return backend
        return candidates[-1]          # unusable: scenarios will skip with its reason
    return BACKENDS[name]()

