"""Where `security` comes from.

A Backend is chosen once per run (`--backend auto|macos|sim|rehearsal`).  Like jaraco/keyring's
backends each has a priority and says whether it can run here; `auto` takes the best
available one.  Each sandbox opens a session with it (base.py: `Backend.open_session`), and the
harness talks to that session.  Every result names the backend: a simulated pass is evidence
about the model, not about macOS.

    base.py        the Backend ABC, the Session every sandbox gets, capabilities
    sim.py         keychain-sim, the shipped model of security(1)
    macos/         the real /usr/bin/security behind a pinning shim, in a security session per sandbox
    rehearsal/     the macos code path with keychain-sim and documented stand-ins behind it
"""
from __future__ import annotations

import importlib

from keychain_claims.errors import BackendUnavailable

# the one table of backend names: `--backend NAME` -> (module of this package, class).  Imported on
# first use, because the macOS shim (a module of this package) runs on every `security` call and must
# not pay for pytest or the backends
NAMES = {"macos": ("macos.backend", "MacOSBackend"), "sim": ("sim", "SimBackend"),
         "rehearsal": ("rehearsal.backend", "RehearsalBackend")}
CHOICES = ("auto", *NAMES)
_WHERE = {"Backend": "base", "BackendError": "base", "BackendSkipped": "base", "Session": "base",
          "UserKeychainGuard": "base", "python_shim": "base", "skip_here": "base",
          **{cls: module for module, cls in NAMES.values()}}
__all__ = [*_WHERE, "BACKENDS", "CHOICES", "NAMES", "PROVENANCE_TITLES", "backend_title", "provenance_kind", "select"]


def provenance_kind(simulated: bool) -> str:
    """The provenance of a backend's own answers: the one place that spells it (`Backend.provenance`
    for a backend object; this for a backend known only by name and kind, as in outcomes.json,
    claims/outcomes.py)."""
    return "simulated" if simulated else "real"


PROVENANCE_TITLES = {"simulated": "simulated", "real": "real macOS"}     # a backend's kind, as results name it


def backend_title(name: str, simulated: bool) -> str:
    """A backend as results name it (the Allure parameter and `backend` label): its name and kind."""
    return f"{name} ({PROVENANCE_TITLES[provenance_kind(simulated)]})"


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"keychain_claims.backends.{_WHERE[name]}"), name)
    if name == "BACKENDS":
        return {backend: __getattr__(cls) for backend, (_, cls) in NAMES.items()}
    raise AttributeError(name)


def select(name: str, real_dialogs: bool = False, faults: str = ""):
    """Resolve `--backend`, giving the backend its options as constructor parameters: `real_dialogs`
    (--real-dialogs) to the macOS backend, `faults` (--rehearsal-faults, a comma list) to the
    rehearsal.  Raises BackendUnavailable (errors.py) with a one-line reason."""
    if name not in CHOICES:
        raise BackendUnavailable(f"unknown backend {name!r}; choose one of: {', '.join(CHOICES)}")
    options = {"real_dialogs": real_dialogs, "faults": faults}

    def make(cls):
        import inspect       # not at the top: the shim and the stand-ins import this package on every call
        taken = inspect.signature(cls).parameters
        return cls(**{key: value for key, value in options.items() if key in taken})
    if name == "auto":
        candidates = sorted((make(cls) for cls in __getattr__("BACKENDS").values()), key=lambda b: -b.priority)
        for backend in candidates:
            if backend.unavailable() is None:
                return backend
        return candidates[-1]          # unusable: scenarios will skip with its reason
    return make(__getattr__("BACKENDS")[name])
