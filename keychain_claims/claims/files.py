"""The files a run writes for others to read, each one model that its writer builds and dumps and its
readers validate through, so a file of the wrong shape is one line (a `FormatError`), never a
traceback half-way through a report:

- claims.json, the verdict table (`ClaimsTable`): written by reports/markdown.py; read by
  `keychain-claims report`, the annotated article, the Allure first screen and the tests.  Its rows
  are the verdicts themselves (claims/verdicts.py `ClaimVerdict`, `OmittedCauseVerdict`;
  claims/proposals.py `ProposalView`), each with its `summary`.
- outcomes.json, a run's scenario outcomes (`OutcomesFile`): written by reports/publish.py at the
  end of every run and merge; read by `keychain-claims merge` (reports/merge.py).  Its rows are the
  outcomes themselves (claims/outcomes.py `Outcome`) with the run each came from."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from pydantic.dataclasses import dataclass

from keychain_claims.claims.outcomes import Outcome
from keychain_claims.claims.proposals import ProposalView
from keychain_claims.claims.verdicts import ClaimVerdict, OmittedCauseVerdict
from keychain_claims.errors import UserError


class FormatError(UserError, ValueError):
    """A file that is not what its name says: one line naming it and what is wrong."""


class TableError(FormatError):
    """A file that is not a verdict table."""


class OutcomesError(FormatError):
    """A file that is not a run's outcomes."""


def first_error(exc: ValidationError) -> str:
    """'claims.0.verdict: Input should be …' -- the first thing wrong with a document, in one line."""
    first = exc.errors()[0]
    where = ".".join(str(x) for x in first.get("loc", ())) or "the document"
    return f"{where}: {' '.join(str(first.get('msg')).split())}"


class ClaimsTable(BaseModel):
    """A run's verdict table: the article it judged, one row per claim and backend, one per omission
    and backend, the scenarios that failed without a claim, and the proposed corrections.  Keys a
    later version adds are ignored on reading."""
    model_config = ConfigDict(extra="ignore")
    article: str
    article_sha256: str
    article_title: str = ""
    backends: dict[str, str]                    # name -> label ("sim (simulated)")
    counts: dict[str, int]                      # claim verdict -> how many rows
    partial: str = ""                           # why the run was partial (written only then)
    claim_verdicts: dict[str, str] = {}         # verdict -> what it means
    claims: list[ClaimVerdict]
    omission_verdicts: dict[str, str] = {}
    omission_counts: dict[str, int] = {}
    omissions: list[OmittedCauseVerdict] = []
    suite_failures: list[dict[str, Any]] = []   # scenarios that failed without a claim
    proposals: list[ProposalView] = []

    def dumps(self) -> str:
        """claims.json's text (not yet redacted): `partial` only when the run was partial."""
        doc = self.model_dump(mode="json", exclude=None if self.partial else {"partial"})
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def read(cls, path: Path) -> "ClaimsTable":
        """The table in `path`.  OSError when it cannot be read; TableError (one line) when it is
        not a verdict table."""
        raw = Path(path).read_bytes()
        try:
            return cls.model_validate_json(raw)
        except ValidationError as exc:
            raise TableError(f"{path} is not a verdict table ({first_error(exc)}); run the suite again "
                             "to rewrite it") from None


# ---------------------------------------------------------------- outcomes.json
OUTCOMES_FORMAT = 1


@dataclass
class OutcomeRow(Outcome):
    """An outcome as outcomes.json keeps it: with the run that produced it (merged folders hold several)."""
    run: str = ""

    def outcome(self) -> Outcome:
        return Outcome(**{k: v for k, v in dataclasses.asdict(self).items() if k != "run"})


class OutcomesFile(BaseModel):
    """A run's (or a merge's) scenario outcomes: what `keychain-claims merge` recomputes verdicts from.
    Keys a later version adds are ignored on reading."""
    model_config = ConfigDict(extra="ignore")
    format: int = OUTCOMES_FORMAT
    run_id: str = ""
    partial: str = ""                           # why the run was partial (written only then)
    article_sha256: str = ""
    suite_commits: dict[str, str] = {}          # run -> the suite commit it ran on
    backends: dict[str, bool]                   # name -> simulated
    labels: dict[str, str] = {}
    releases: list[str] = []
    outcomes: list[OutcomeRow]

    def dumps(self) -> str:
        """outcomes.json's text: `partial` only when the run was partial."""
        return json.dumps(self.model_dump(mode="json", exclude=None if self.partial else {"partial"}), indent=1)

    @classmethod
    def read(cls, path: Path) -> "OutcomesFile":
        """The outcomes in `path`.  OSError when it cannot be read; OutcomesError (one line) when it
        is not a run's outcomes."""
        return cls.parse(Path(path).read_bytes(), path)

    @classmethod
    def parse(cls, raw: bytes, path: Path) -> "OutcomesFile":
        """The outcomes in `raw`, read from `path` (named in the one line when they are not)."""
        try:
            return cls.model_validate_json(raw)
        except ValidationError as exc:
            raise OutcomesError(f"{path} is not a suite run's outcomes ({first_error(exc)}); "
                                "re-run the suite to write it again") from None
