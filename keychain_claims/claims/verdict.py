"""The verdicts, defined once: a claim's (`Verdict`) and an omission's (`OmissionVerdict`), each
carrying what every report shows of it -- its label, the colour it is drawn in, its rank (the
worst first, for a claim shown once over several backends) and its marks in claims.md and the
Allure report.  The `.value` is the string claims.json, release-matrix.json and Allure labels carry.

A claim's verdict is derived from scenario outcomes, never written by hand:
  holds         -- every scenario for the claim passed on this backend
  contradicted  -- a recorded contradiction still holds (its finding's own assertion failed again)
  fails         -- a scenario's assertion failed where it was expected to pass (a new contradiction)
  no-longer-contradicted -- a recorded contradiction stopped holding (strict xfail passed: run fails)
  not-checkable -- every scenario skipped or was not evidence (a harness error, a failed set-up, a
                   crash: claims/evidence.py); the reason says why

An omission (what the article misses) has verdicts of its own, kept apart from the claims'.
"""
from __future__ import annotations

from enum import Enum


class _Named(str, Enum):
    """A str whose text is its value (enum.StrEnum is 3.11+; the package supports 3.10)."""
    __str__ = str.__str__

    def __format__(self, format_spec: str) -> str:
        return str.__format__(self, format_spec)


class Verdict(_Named):
    # value, label, colour, rank (0 = worst), claims.md mark, Allure headline
    HOLDS = "holds", "holds", "#2f9e44", 3, "holds", "HOLDS"
    CONTRADICTED = "contradicted", "contradicted", "#e8590c", 2, "**CONTRADICTED**", "CONTRADICTED"
    FAILS = "fails", "fails", "#c92a2a", 0, "**FAILS**", "FAILS"
    NO_LONGER_CONTRADICTED = ("no-longer-contradicted", "no longer contradicted", "#7048e8", 1,
                              "**NO LONGER CONTRADICTED**", "NO LONGER CONTRADICTED")
    NOT_CHECKABLE = "not-checkable", "not checkable", "#adb5bd", 4, "not checkable", "NOT CHECKABLE"

    label: str
    colour: str
    rank: int
    mark: str
    headline: str

    # the attributes after the value are optional in the signature only so that a type checker reads
    # `Verdict("holds")` (a look-up by value) as the call it is; every member gives them all
    def __new__(cls, value: str, *attrs: str | int) -> Verdict:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label, member.colour, member.rank, member.mark, member.headline = attrs  # type: ignore[assignment]  # the members' tuples
        return member


class OmissionVerdict(_Named):
    # value, label, colour (release matrix), note colour (annotated article), rank, claims.md mark,
    # Allure headline, meaning (claims.json carries the meanings, claims.md prints them)
    REPRODUCED = ("reproduced", "reproduced", "#1971c2", "#1971c2", 1, "**REPRODUCED**", "OMISSION REPRODUCED",
                  "a scenario stating the cause the article misses passed on this backend (or a scenario "
                  "stating its absence failed): the cause happens here")
    NOT_REPRODUCED = ("not reproduced", "not reproduced", "#c92a2a", "#c92a2a", 0, "not reproduced",
                      "OMISSION NOT REPRODUCED",
                      "a scenario that ran did not show the cause (its statement failed, or a scenario "
                      "stating its absence passed); the reason says which")
    NOT_CHECKABLE = ("not-checkable", "not checkable", "#adb5bd", "#868e96", 2, "not checkable", "NOT CHECKABLE",
                     "no scenario for it ran: none is tagged yet, or every one skipped; the reason says why")

    label: str
    colour: str
    note_colour: str
    rank: int
    mark: str
    headline: str
    meaning: str

    def __new__(cls, value: str, *attrs: str | int) -> OmissionVerdict:   # optional attributes: see Verdict
        member = str.__new__(cls, value)
        member._value_ = value
        (member.label, member.colour, member.note_colour, member.rank,
         member.mark, member.headline, member.meaning) = attrs  # type: ignore[assignment]  # the members' tuples
        return member


# the definitions as claims.json carries them ("omission_verdicts": verdict -> meaning)
OMISSION_VERDICTS = {v.value: v.meaning for v in OmissionVerdict}

# what each claim verdict means, as claims.json carries it ("claim_verdicts": verdict -> meaning) and
# claims.md prints it above its table
CLAIM_VERDICTS = {
    Verdict.HOLDS.value: "every scenario of the claim that ran supports it: those stating it passed, none stating "
                         "what contradicts it passed",
    Verdict.CONTRADICTED.value: "the evidence says the article is wrong here: a recorded finding still holds (its "
                                "scenario failed on the finding's own assertion) or a scenario stating what "
                                "contradicts the claim passed",
    Verdict.FAILS.value: "a scenario stating the claim failed although no finding is recorded: a new contradiction "
                         "(or, on the simulator, a harness error); look at the scenario",
    Verdict.NO_LONGER_CONTRADICTED.value: "a recorded finding stopped holding (its scenario passed): the article "
                                          "may be right now; update the ledger",
    Verdict.NOT_CHECKABLE.value: "no scenario of the claim ran to a result here (every one skipped, or none is "
                                 "tagged); the reason says why. Never evidence for or against the claim",
}
