"""The real macOS backend and its session (backend.py) and what it needs on a Mac: the shim that
pins every call to the scratch keychain (shim.py), the sandbox's security session broker
(session.py), the run's safety checks (safety.py), test callers (callers.py, testcaller.c) and the
consent and SecurityAgent dialog watches (dialogs.py).  The rehearsal's stand-ins for the Mac's
leaves live in backends/rehearsal/.  Empty on purpose: the shim runs
on every `security` call and must import nothing it does not use."""
