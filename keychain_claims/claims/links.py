"""How a scenario is linked to a claim: every link has a polarity, written in its Gherkin tag.

  @supports:ID  -- the scenario states the claim: passing supports it; a recorded finding on it
                   runs as a strict xfail (the claim is contradicted while the scenario fails)
  @refutes:ID   -- the scenario states what contradicts the claim: passing contradicts it

A bare `@claim:ID` has no polarity and is refused, so no verdict can count a refutation as
support by accident.

  @proposes:ID  -- the scenario states the ledger's proposed replacement for ID (its `proposed:` text):
                   passing supports the proposal.  It is no evidence about the claim itself, so it is
                   not a link: `proposals` reads it, `links` does not.
"""
from __future__ import annotations

from typing import NamedTuple
from collections.abc import Iterable

SUPPORTS, REFUTES = "supports", "refutes"
PROPOSES = "proposes"
POLARITIES = (SUPPORTS, REFUTES)
UNPOLARISED = "claim"


class Link(NamedTuple):
    claim: str
    polarity: str          # supports | refutes | "" (a bare @claim: tag, refused)


def parse(tag: str) -> Link | None:
    """The link a tag makes, or None when the tag is not about a claim."""
    kind, sep, cid = tag.partition(":")
    if not sep or kind not in (*POLARITIES, UNPOLARISED):
        return None
    return Link(cid, kind if kind in POLARITIES else "")


def links(tags: Iterable[str]) -> list[Link]:
    return sorted(link for link in map(parse, tags) if link is not None)


def proposals(tags: Iterable[str]) -> list[str]:
    """The ledger IDs whose proposed replacement the scenario states (@proposes:ID)."""
    return sorted({tag.partition(":")[2] for tag in tags if tag.startswith(PROPOSES + ":")})


def unpolarised_message(where: str, cid: str) -> str:
    return (f"{where}: tag @claim:{cid} says no polarity; tag it @supports:{cid} when the scenario states "
            f"the claim, or @refutes:{cid} when it states what contradicts it")
