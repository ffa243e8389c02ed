"""`--backend rehearsal`: the macOS backend's whole code path with keychain-sim and documented
stand-ins behind it (backend.py), and those stand-ins (standins.py, with the SDK declarations the
stand-in cc checks the test caller against).  Only the rehearsal uses anything here; the stand-ins
may import the simulator."""
