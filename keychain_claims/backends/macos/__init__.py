"""The real macOS backend (backend.py) and what it needs on a Mac: the shim that pins every call
to the scratch keychain (shim.py), the run's safety checks (safety.py), test callers (callers.py,
testcaller.c) and the SecurityAgent dialog watch (dialogs.py).  Empty on purpose: the shim runs
on every `security` call and must import nothing it does not use."""
