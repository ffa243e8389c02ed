"""The suite's plugins (keychain_claims/plugins/): a finding scoped to releases set once as a strict
xfail, user_properties keys read back as written."""
from __future__ import annotations

from types import SimpleNamespace

from keychain_claims.backends.sim import SimBackend
from keychain_claims.claims.ledger import Ledger
from keychain_claims.claims.outcomes import NO_RELEASE, Prop, outcome_from_report
from keychain_claims.plugins.ledger import SCOPED_KEY, findings_as_xfails

SCENARIO = "Without a GUI, a refreshed token the keychain refuses to take goes to ~/.claude/.credentials.json"


class _Item:
    """What findings_as_xfails reads of a pytest item: its release parameter, marks and stash."""
    def __init__(self, spec):
        self.callspec = SimpleNamespace(params={"claude_release": spec})
        self.marks, self.stash = [], {}

    def add_marker(self, mark):
        self.marks.append(mark.mark)


def _xfails(spec, versions):
    item = _Item(spec)
    findings_as_xfails(item, SCENARIO, Ledger(), SimBackend(), versions)
    return [m.kwargs["reason"] for m in item.marks if m.name == "xfail"], item.stash.get(SCOPED_KEY)


def test_a_release_scoped_finding_is_set_once_at_collection_for_an_exact_version():
    reasons, deferred = _xfails("2.1.332", {"2.1.332": "2.1.332"})
    assert [r.split(":")[0] for r in reasons] == [
        "recorded contradiction FIX-FILE-FALLBACK/refused-write-lost of FIX-FILE-FALLBACK for releases >=2.1.281 (2.1.332)"]
    assert deferred is None


def test_a_release_outside_every_range_gets_no_xfail():
    assert _xfails("2.1.100", {"2.1.100": "2.1.100"}) == ([], None)


def test_a_tag_is_decided_once_the_release_is_loaded():
    reasons, deferred = _xfails("latest", {})
    assert reasons == [] and {d[1].releases for d in deferred} == {">=2.1.281", ">=1.0.68 <=2.0.31"}


def test_user_properties_are_read_back_under_the_keys_they_were_written_with():
    props = [(Prop.CLAIMS, ["CAU-UPDATE"]), (Prop.REFUTES, []), (Prop.BACKEND, "sim"), (Prop.SIMULATED, True),
             (Prop.SCENARIO, "s <n>"), (Prop.EXAMPLE, {"n": "1"}), (Prop.FEATURE, "f"), (Prop.RELEASE, NO_RELEASE),
             (Prop.PROVENANCE, ["fingerprint"])]
    report = SimpleNamespace(user_properties=props, when="call", passed=True, failed=False, skipped=False,
                             outcome="passed", longrepr=None, nodeid="n")
    outcome = outcome_from_report(report)
    assert (outcome.claims, outcome.backend, outcome.name, outcome.release, outcome.provenance, outcome.feature) == \
        (["CAU-UPDATE"], "sim", "s 1", "", ["fingerprint"], "f")
