"""Where `security` comes from.

A Backend is chosen once per run (`--backend auto|macos|sim`).  Like jaraco/keyring's
backends each has a priority and says whether it can run here; `auto` takes the best
available one.  Every result names the backend: a simulated pass is evidence about
the model, not about macOS.
"""
from __future__ import annotations

import importlib

CHOICES = ("auto", "macos", "sim", "rehearsal")
# where each name lives; imported on first use, because the macOS shim (a module of this package)
# runs on every `security` call and must not pay for pytest or the backends
_WHERE = {"Backend": "base", "BackendError": "base", "BackendSkipped": "base", "python_shim": "base",
          "skip_here": "base", "MacOSBackend": "macos.backend", "RehearsalBackend": "rehearsal",
          "SimBackend": "sim"}
__all__ = [*_WHERE, "BACKENDS", "CHOICES", "select"]


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"keychain_claims.backends.{_WHERE[name]}"), name)
    if name == "BACKENDS":
        return {"macos": __getattr__("MacOSBackend"), "sim": __getattr__("SimBackend"),
                "rehearsal": __getattr__("RehearsalBackend")}
    raise AttributeError(name)


def select(name: str):
    """Resolve `--backend`.  Raises BackendError with a one-line reason."""
    if name not in CHOICES:
        raise __getattr__("BackendError")(f"unknown backend {name!r}; choose one of: {', '.join(CHOICES)}")
    if name == "auto":
        candidates = sorted((cls() for cls in __getattr__("BACKENDS").values()), key=lambda b: -b.priority)
        for backend in candidates:
            if backend.unavailable() is None:
                return backend
        return candidates[-1]          # unusable: scenarios will skip with its reason
    return __getattr__("BACKENDS")[name]()

