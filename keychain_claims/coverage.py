"""Keeps the ledger, the article and the features from drifting apart.

Problems reported (each one line, saying what to fix):
  * a claim's quoted span no longer occurs in the article;
  * a claim has no scenario tagged @claim:<ID>;
  * a tag names a claim the ledger does not have;
  * a command of the article's fenced code blocks is not typed verbatim by any scenario
    (as a docstring of an "I type the article's command(s)" step).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from pytest_bdd.parser import FeatureParser

from . import PROJECT_ROOT
from .article import Article
from .ledger import Ledger

FEATURES_DIR = PROJECT_ROOT / "features"
TYPE_STEP = "I type the article's command"


@dataclass(frozen=True)
class ScenarioRef:
    feature: str
    name: str
    line: int
    claims: tuple[str, ...]
    typed: tuple[str, ...]          # article commands typed verbatim


def scenarios(features_dir: Path = FEATURES_DIR) -> list[ScenarioRef]:
    refs = []
    for path in sorted(features_dir.glob("*.feature")):
        feature = FeatureParser(str(features_dir), path.name).parse()
        for template in feature.scenarios.values():
            tags = template.tags | feature.tags
            claims = tuple(sorted(t.split(":", 1)[1] for t in tags if t.startswith("claim:")))
            steps = list(template.steps) + list(getattr(feature.background, "steps", []) or [])
            typed = tuple(line for s in steps if s.name.startswith(TYPE_STEP) and s.docstring
                          for line in s.docstring.splitlines() if line.strip())
            refs.append(ScenarioRef(path.name, template.name, template.line_number, claims, typed))
    return refs


def problems(article: Article, ledger: Ledger, features_dir: Path = FEATURES_DIR) -> list[str]:
    found: list[str] = []
    for claim in ledger.unquoted(article):
        found.append(f"claim {claim.id}: its quote no longer occurs in {article.path.name} "
                     f"({claim.quote[:60]!r}); update the ledger entry or the article")
    refs = scenarios(features_dir)
    by_claim: dict[str, list[ScenarioRef]] = defaultdict(list)
    for ref in refs:
        for cid in ref.claims:
            by_claim[cid].append(ref)
            if cid not in ledger:
                found.append(f"{ref.feature}:{ref.line} scenario {ref.name!r}: tag @claim:{cid} names no claim "
                             f"in {ledger.path.name}")
    for claim in ledger:
        if not by_claim.get(claim.id):
            found.append(f"claim {claim.id} has no scenario; tag one with @claim:{claim.id}")
        for finding in claim.findings:
            if not any(r.name == finding.scenario for r in by_claim.get(claim.id, [])):
                found.append(f"claim {claim.id}: its finding names scenario {finding.scenario!r}, "
                             f"which no scenario tagged @claim:{claim.id} is called")
    typed = {line for ref in refs for line in ref.typed}
    for command in article.commands:
        if command.text not in typed:
            found.append(f"{article.path.name}:{command.line}: command {command.text!r} is not typed verbatim "
                         "by any scenario")
    for ref in refs:
        for line in ref.typed:
            if line not in {c.text for c in article.commands}:
                found.append(f"{ref.feature}:{ref.line} scenario {ref.name!r} types {line!r}, "
                             f"which is not a command of {article.path.name}")
    return found
