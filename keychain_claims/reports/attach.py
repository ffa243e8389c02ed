"""Everything the suite hands to Allure goes through here, and through redact()."""
from __future__ import annotations

from keychain_claims.redact import redact

_KINDS = {"text": ("TEXT", "txt"), "json": ("JSON", "json")}


def attach(name: str, body: str, kind: str = "text") -> None:
    """Attach `body` (redacted) to the current test in the Allure results, if Allure is on."""
    try:
        import allure
        from allure_commons.types import AttachmentType
    except ImportError:       # pragma: no cover - allure-pytest-bdd is a dependency
        return
    allure.attach(redact(body), name=name, attachment_type=getattr(AttachmentType, _KINDS[kind][0]))
