"""The assumption probes (keychain_claims/measures/assumptions/): every assumption has a probe, and each settles
on the simulator or the rehearsal."""
from __future__ import annotations

import pytest

from keychain_claims.backends import RehearsalBackend, SimBackend


@pytest.mark.corpus
def test_every_assumption_has_a_probe_and_all_settle_on_the_simulator(tmp_path):
    """Every assumption is settled -- held -- by the simulator or by the rehearsal (the macOS code
    path against the simulator); the only ones neither settles are refused for safety."""
    from keychain_claims.measures.assumptions import settle as assumptions
    assert assumptions.REGISTRY and all(callable(a.probe) for a in assumptions.REGISTRY.values())
    sim = assumptions.settle(SimBackend(), tmp_path / "sim")
    rehearsal = assumptions.settle(RehearsalBackend(), tmp_path / "rehearsal")
    for aid in assumptions.REGISTRY:
        states = {sim[aid]["status"], rehearsal[aid]["status"]}
        assert "did-not-hold" not in states, (aid, sim[aid]["observed"], rehearsal[aid]["observed"])
        assert "held" in states, (aid, sim[aid]["observed"], rehearsal[aid]["observed"])
    assert all(t["calls"] for t in rehearsal.values() if t["status"] == "held" and t["id"] not in
               ("CODESIGN-CDHASH", "SIGNING-IDENTITY"))          # a transcript of what the host answered
    from keychain_claims.measures import fidelity
    rows = fidelity.settled(tmp_path / "rehearsal")
    assert rows and all(r["state"] in ("agrees", "not-comparable") for r in rows)
