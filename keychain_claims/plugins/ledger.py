"""The article and its claims ledger: loaded (and checked against each other) at configure,
Gherkin tags turned into `claim` marks, every scenario given its claims, backend and example as
user properties and Allure labels, and each recorded contradiction (a ledger finding) made a
strict xfail -- a finding scoped to releases only for the releases in its range -- that passes only
on the finding's own assertion (claims/evidence.py: the AssertionError of the step the finding
names, raised again as `FindingHolds` with the finding's ID).  The article and the ledger are CLAIMS in
`config.stash`."""
from __future__ import annotations

import pytest

from keychain_claims.claims import links
from keychain_claims.claims.article import Article, ArticleError
from keychain_claims.claims.evidence import FindingHolds, StepFailure, finding_of
from keychain_claims.claims.ledger import Ledger, LedgerError
from keychain_claims.claims.outcomes import Prop
from keychain_claims.plugins.state import (BACKEND, CLAIMS, FINDINGS_KEY, RELEASES, STEP_KEY, Claims, claims_run,
                                           release_of, scenario_of, usage)
from keychain_claims.releases.release import Release
from keychain_claims.claims.release_order import in_releases
from keychain_claims.reports import allure as allure_files
from keychain_claims.claims.coverage import FeatureFileError, problems, scenarios

SCOPED_KEY = pytest.StashKey[list]()   # on an item: release-scoped findings decided once its release is loaded


def configure(config: pytest.Config) -> None:
    try:
        article = Article(config.getoption("article") or Article().path)
        ledger_path = config.getoption("ledger") or article.path.with_suffix(".claims.yaml")
        config.stash[CLAIMS] = Claims(article, Ledger(ledger_path))
    except (ArticleError, LedgerError) as exc:
        usage(str(exc))
    if claims_run(config):
        _check_article_and_ledger(article, config.stash[CLAIMS].ledger)


def _check_article_and_ledger(article: Article, ledger: Ledger) -> None:
    """`keychain-claims check` at the start of every claims run: a claim whose sentence the
    article no longer has (or a tag, refutation or command out of step) stops the run before
    anything runs or is written, with one line naming the claim and the sentence."""
    try:
        found = problems(article, ledger)
    except FeatureFileError as exc:
        usage(str(exc))
    if found:
        more = (f" (and {len(found) - 1} more: keychain-claims check --article={article.path} "
                f"--ledger={ledger.path} lists them)") if len(found) > 1 else ""
        usage(f"the article and the ledger disagree: {found[0]}{more}")


def pytest_sessionstart(session: pytest.Session) -> None:
    """A scenario's tag that is not a claim link becomes a pytest mark, which --strict-markers
    refuses at collection (a traceback-like error block, the run ended): a mistyped one (@symptm)
    is one line here instead, once every plugin has declared its markers."""
    config = session.config
    if not claims_run(config):
        return
    declared = {line.split(":")[0].split("(")[0].strip() for line in config.getini("markers")}
    try:
        refs = scenarios()
    except FeatureFileError as exc:
        usage(str(exc))
    for ref in refs:
        unknown = [t for t in ref.markers if t not in declared]
        if unknown:
            usage(f"feature file features/{ref.feature} line {ref.line}: tag @{unknown[0]} of scenario {ref.name!r} "
                  "is neither a claim link (@supports:ID, @refutes:ID), a proposal (@proposes:ID) nor a marker pytest.ini declares; "
                  "fix the tag or declare it under `markers`")


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_apply_tag(tag: str, function):
    link = links.parse(tag)
    if link is not None:
        pytest.mark.claim(link.claim, link.polarity)(function)
        return True
    if links.proposals([tag]):
        pytest.mark.proposes(tag)(function)
        return True
    return None


def _finding_xfail(item: pytest.Item, claim: str, finding, where: str):
    """The strict xfail of one finding in force on `item`: it accepts only `FindingHolds`, raised
    for this finding's own step (pytest_pyfunc_call below)."""
    item.stash.setdefault(FINDINGS_KEY, []).append((finding.id, finding.step))
    item.add_marker(pytest.mark.xfail(strict=True, raises=FindingHolds,
                                      reason=f"recorded contradiction {finding.id} of {claim} {where}: {finding.evidence}"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ledger, backend = config.stash[CLAIMS].ledger, config.stash[BACKEND]
    versions = config.stash[RELEASES].versions
    for item in items:
        template = scenario_of(item)
        if template is None:
            continue
        # the tags were checked against the ledger once, at configure (_check_article_and_ledger)
        marks = [links.Link(*m.args) for m in item.iter_markers("claim")]
        claims = sorted({link.claim for link in marks})
        refutes = sorted({link.claim for link in marks if link.polarity == links.REFUTES})
        proposes = links.proposals(m.args[0] for m in item.iter_markers("proposes"))
        item.user_properties += [(Prop.CLAIMS, claims), (Prop.REFUTES, refutes), (Prop.PROPOSES, proposes),
                                 (Prop.BACKEND, backend.name),
                                 (Prop.SIMULATED, backend.simulated), (Prop.SCENARIO, template.name)]
        callspec = getattr(item, "callspec", None)
        example = callspec.params.get("_pytest_bdd_example") if callspec is not None else None
        item.user_properties += [(Prop.EXAMPLE, dict(example or {})), (Prop.FEATURE, template.feature.name)]
        item.add_marker(pytest.mark.allure_label(item.nodeid, label_type=allure_files.NODEID_LABEL))
        for cid in claims:
            item.add_marker(pytest.mark.allure_label(cid, label_type="claim"))
        for section in sorted({ledger[cid].section for cid in claims}):
            item.add_marker(pytest.mark.allure_label(section, label_type="article-section"))
        item.add_marker(pytest.mark.allure_label(allure_files.backend_label(backend.name, backend.simulated),
                                                 label_type="backend"))
        findings_as_xfails(item, template.name, ledger, backend, versions)


def findings_as_xfails(item: pytest.Item, scenario: str, ledger: Ledger, backend, versions: dict[str, str]) -> None:
    """Each recorded contradiction of this scenario on this backend is a strict xfail, set once.
    A finding with `releases` holds only for those releases: on a release item it is set when the
    release's version is known -- now for an exact version, else once the release is loaded
    (plugins/releases.py) -- and only for a version in its range; it comes after the findings for
    every release (the first xfail mark is the one pytest reports)."""
    per_release, spec = release_of(item)
    scoped = []
    for claim, finding in ledger.findings_for(scenario, backend.name):
        if per_release and finding.releases:
            scoped.append((claim.id, finding))
            continue
        _finding_xfail(item, claim.id, finding, f"on backend {backend.name}")
    version = versions.get(spec) if spec is not None else None
    if version is None:
        if scoped:
            item.stash[SCOPED_KEY] = scoped
        return
    for claim_id, finding in scoped:
        if in_releases(version, finding.releases):
            _finding_xfail(item, claim_id, finding, f"for releases {finding.releases} ({version})")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """A release-scoped finding whose release was not a version at collection (a tag, a path):
    its strict xfail, once the `claude_release` fixture has loaded the release (plugins/releases.py)."""
    yield
    scoped = item.stash.get(SCOPED_KEY, None)
    loaded = item.config.stash[RELEASES].loaded.get(release_of(item)[1]) if scoped else None
    if not isinstance(loaded, Release):
        return
    for claim, finding in scoped:
        if in_releases(loaded.version, finding.releases):
            _finding_xfail(item, claim, finding, f"for releases {finding.releases} ({loaded.version})")


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_step_error(request, step, exception) -> None:
    """The step a scenario stopped at (the evidence rule and the findings read it)."""
    request.node.stash[STEP_KEY] = StepFailure(step.type, step.name, exception)


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Item):
    """A scenario that stopped at the step a finding in force names, on an assertion: the finding
    holds, raised as `FindingHolds` with its ID (the one thing the finding's strict xfail accepts)
    and recorded on the result (Prop.FINDINGS)."""
    try:
        return (yield)
    except AssertionError as exc:
        fid = finding_of(pyfuncitem.stash.get(STEP_KEY, None), pyfuncitem.stash.get(FINDINGS_KEY, []))
        if fid is None or isinstance(exc, FindingHolds):
            raise
        pyfuncitem.user_properties.append((Prop.FINDINGS, [fid]))
        raise FindingHolds(fid, str(exc)) from exc
