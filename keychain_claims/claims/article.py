"""The document under test: its sections, quoted spans and fenced commands."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from keychain_claims import ARTICLES_DIR

ARTICLE_NAME = "claude-code-keychain-acl-invalidation.md"
DEFAULT_PATH = ARTICLES_DIR / ARTICLE_NAME
MAX_BYTES = 4 << 20          # an article larger than this is not the article: refused, not read


class ArticleError(Exception):
    """One-line, actionable reason the article cannot be used."""


@dataclass(frozen=True)
class Command:
    line: int       # 1-based line in the article
    text: str       # the command exactly as written


def normalize(text: str) -> str:
    """Markdown emphasis and whitespace do not count when finding a quote."""
    text = re.sub(r"\*\*|__", "", text)
    return re.sub(r"\s+", " ", text).strip()


class Article:
    def __init__(self, path: Path | str = DEFAULT_PATH):
        from keychain_claims.atomic import Unreadable, read_utf8
        self.path = Path(path)
        try:
            self.data, text = read_utf8(self.path, MAX_BYTES, "article")
        except Unreadable as exc:
            raise ArticleError({
                "missing": f"article not found at {self.path}; restore it with `git checkout -- articles/`",
                "directory": f"article {self.path} is a directory; pass --article=<the article's .md file>",
            }.get(exc.kind) or f"article at {self.path} {exc.detail}; pass --article=<a readable .md file> "
                                "or restore it from git") from None
        self.text = text.replace("\r\n", "\n").replace("\r", "\n")
        self.lines = self.text.splitlines()

    @cached_property
    def sha256(self) -> str:
        """Of the file's bytes as read (a CRLF copy is not the LF text)."""
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def commands(self) -> list[Command]:
        """Non-comment lines of the fenced code blocks, in order."""
        found, inside = [], False
        for number, line in enumerate(self.lines, 1):
            if line.strip().startswith("```"):
                inside = not inside
                continue
            stripped = line.strip()
            if inside and stripped and not stripped.startswith("#"):
                found.append(Command(number, stripped))
        return found

    @cached_property
    def _flat(self) -> tuple[str, list[int]]:
        """Normalized text plus, per character, the article line it came from."""
        out, where = [], []
        for number, line in enumerate(self.lines, 1):
            norm = normalize(line)
            if norm:
                if out:
                    out.append(" ")
                    where.append(number)
                out.extend(norm)
                where.extend([number] * len(norm))
        return "".join(out), where

    def locate(self, quote: str) -> int | None:
        """1-based line where `quote` starts, or None when it no longer occurs."""
        flat, where = self._flat
        index = flat.find(normalize(quote))
        return where[index] if index >= 0 else None
