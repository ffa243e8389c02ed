"""Keeps the ledger, the article and the features from drifting apart.

Problems reported (each one line, saying what to fix):
  * a claim's quoted span no longer occurs in the article;
  * a claim has no scenario tagged @supports:<ID> or @refutes:<ID>, or a tag has no polarity;
  * an omission (OMI-…) has no scenario -- enforced once any scenario is tagged with an omission;
    until then an omission without one is reported "not-checkable: no scenario yet" (see
    `unscenarioed_omissions`), not refused;
  * an omission's `anchor` no longer occurs in the article;
  * a tag names a claim or omission the ledger does not have;
  * a claim's `refuted_by` list in the ledger and its @refutes:<ID> tags name different scenarios;
  * a @proposes:<ID> tag names an entry without a `proposed:` text, or a `proposed:` text has no scenario
    tagged @proposes:<ID> (a proposed replacement is checked like a claim);
  * a command of the article's fenced code blocks is not typed verbatim by any scenario
    (as a docstring of an "I type the article's command(s)" step).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from pytest_bdd.parser import FeatureParser

from keychain_claims import PROJECT_ROOT
from keychain_claims.claims import links
from keychain_claims.claims.article import Article
from keychain_claims.claims.ledger import Ledger
from keychain_claims.atomic import Unreadable, read_utf8
from keychain_claims.errors import UserError

FEATURES_DIR = PROJECT_ROOT / "features"
TYPE_STEP = "I type the article's command"
MAX_FEATURE_BYTES = 1 << 20


class FeatureFileError(UserError):
    """One line: a feature file that cannot be read or parsed, where, and what to do."""


def parse_feature(features_dir: Path, path: Path):
    """A feature file parsed by pytest-bdd's parser, or FeatureFileError naming the file and line:
    not a regular file (a folder named *.feature), not UTF-8, a mistyped keyword, an unclosed
    docstring."""
    from pytest_bdd.exceptions import GherkinParseError

    fix = "fix it or restore it with `git checkout -- features/`"
    try:
        read_utf8(path, MAX_FEATURE_BYTES, "feature file")
    except Unreadable as exc:
        raise FeatureFileError(f"feature file {path} {exc.detail}; "
                               + (fix if exc.kind == "not-utf8" else "remove it or restore it with `git checkout -- features/`")) from None
    try:
        return FeatureParser(str(features_dir), path.name).parse()
    except GherkinParseError as exc:
        said = " ".join(str(exc.message).split()).rstrip(".")
        raise FeatureFileError(f"feature file {path} line {exc.line}: {said[:300]}; {fix}") from None


@dataclass(frozen=True)
class ScenarioRef:
    feature: str
    name: str
    line: int
    claims: tuple[str, ...]
    typed: tuple[str, ...]          # article commands typed verbatim
    unpolarised: tuple[str, ...] = ()   # claims tagged @claim: (no polarity: refused)
    refutes: tuple[str, ...] = ()       # claims the scenario states the opposite of
    markers: tuple[str, ...] = ()       # its other tags (and its feature's): pytest marks, which must be declared
    checks: tuple[str, ...] = ()        # the text of its When and Then steps (what a finding may name)
    proposes: tuple[str, ...] = ()      # entries whose proposed replacement it states (@proposes:)


def scenarios(features_dir: Path = FEATURES_DIR) -> list[ScenarioRef]:
    refs = []
    for path in sorted(features_dir.glob("*.feature")):
        feature = parse_feature(features_dir, path)
        for template in feature.scenarios.values():
            tags = template.tags | feature.tags
            linked = links.links(tags)
            claims = tuple(sorted({link.claim for link in linked}))
            steps = list(template.steps) + list(getattr(feature.background, "steps", []) or [])
            typed = tuple(line for s in steps if s.name.startswith(TYPE_STEP) and s.docstring
                          for line in s.docstring.splitlines() if line.strip())
            refs.append(ScenarioRef(path.name, template.name, template.line_number, claims, typed,
                                    tuple(sorted(link.claim for link in linked if not link.polarity)),
                                    tuple(sorted(link.claim for link in linked if link.polarity == links.REFUTES)),
                                    tuple(sorted(t for t in tags if links.parse(t) is None and not links.proposals([t]))),
                                    tuple(" ".join(s.name.split()) for s in template.steps if s.type != "given"),
                                    tuple(links.proposals(tags))))
    return refs


def problems(article: Article, ledger: Ledger, features_dir: Path = FEATURES_DIR) -> list[str]:
    found: list[str] = []
    for unquoted in ledger.unquoted(article):
        found.append(f"claim {unquoted.id}: its sentence “{' '.join(unquoted.quote.split())}” no longer occurs in "
                     f"{article.path.name}; update the ledger entry or the article")
    for omission in ledger.unanchored(article):
        found.append(f"omission {omission.id}: its anchor no longer occurs in {article.path.name} "
                     f"({omission.anchor[:60]!r}); update the ledger entry or the article")
    refs = scenarios(features_dir)
    by_claim: dict[str, list[ScenarioRef]] = defaultdict(list)
    for ref in refs:
        for cid in ref.unpolarised:
            found.append(links.unpolarised_message(f"{ref.feature}:{ref.line} scenario {ref.name!r}", cid))
        for cid in ref.claims:
            by_claim[cid].append(ref)
            if cid not in ledger:
                tag = "refutes" if cid in ref.refutes else "supports"
                found.append(f"{ref.feature}:{ref.line} scenario {ref.name!r}: tag @{tag}:{cid} names no claim "
                             f"in {ledger.path.name}")
    enforce_omissions = any(cid in ledger.omissions for cid in by_claim)
    for claim in ledger.entries():
        if not by_claim.get(claim.id) and (claim.kind == "claim" or enforce_omissions):
            found.append(f"{claim.kind} {claim.id} has no scenario; tag one with @supports:{claim.id} "
                         f"or @refutes:{claim.id}")
        for finding in claim.findings:
            named = [r for r in by_claim.get(claim.id, []) if r.name == finding.scenario and claim.id not in r.refutes]
            if not named:
                found.append(f"claim {claim.id}: its finding {finding.id} names scenario {finding.scenario!r}, "
                             f"which no scenario tagged @supports:{claim.id} is called")
            elif not all(finding.step in r.checks for r in named):
                found.append(f"claim {claim.id}: finding {finding.id} names step {finding.step!r}, which is not a "
                             f"When or Then step of scenario {finding.scenario!r}; name the step whose assertion "
                             "it records")
        tagged = {r.name for r in by_claim.get(claim.id, []) if claim.id in r.refutes}
        for name in sorted(tagged - set(claim.refuted_by)):
            found.append(f"{claim.kind} {claim.id}: scenario {name!r} is tagged @refutes:{claim.id} but not listed in "
                         f"its `refuted_by` in {ledger.path.name}; list it there or tag it @supports:{claim.id}")
        for name in sorted(set(claim.refuted_by) - tagged):
            found.append(f"{claim.kind} {claim.id}: `refuted_by` names scenario {name!r}, which no scenario tagged "
                         f"@refutes:{claim.id} is called; fix the name or the tag")
    seen: dict[str, ScenarioRef] = {}
    for ref in refs:
        other = seen.setdefault(ref.name, ref)
        if other is not ref:
            found.append(f"{ref.feature}:{ref.line} scenario {ref.name!r} has the name of the scenario at "
                         f"{other.feature}:{other.line}; give each scenario its own name")
    proposing = {cid for ref in refs for cid in ref.proposes}
    for ref in refs:
        for cid in ref.proposes:
            if cid not in ledger or not ledger[cid].proposed:
                found.append(f"{ref.feature}:{ref.line} scenario {ref.name!r}: tag @proposes:{cid} names no entry "
                             f"with a `proposed:` text in {ledger.path.name}; add the text or fix the tag")
    for entry in ledger.entries():
        if entry.proposed and entry.id not in proposing:
            found.append(f"{entry.kind} {entry.id}: its `proposed:` text has no scenario; tag the scenario that "
                         f"states it @proposes:{entry.id}")
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


def unscenarioed_omissions(ledger: Ledger, features_dir: Path = FEATURES_DIR) -> list[str]:
    """Omissions no scenario is tagged with.  While no scenario names any omission these are
    not-checkable ("no scenario yet"), not an error; once one does, problems() refuses them."""
    tagged = {cid for ref in scenarios(features_dir) for cid in ref.claims}
    return [oid for oid in ledger.omissions if oid not in tagged]
