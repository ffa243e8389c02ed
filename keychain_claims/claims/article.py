"""The document under test: its sections, quoted spans and fenced commands."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from keychain_claims import ARTICLES_DIR
from keychain_claims.atomic import Unreadable, read_utf8
from keychain_claims.errors import UserError

ARTICLE_NAME = "claude-code-keychain-acl-invalidation.md"
DEFAULT_PATH = ARTICLES_DIR / ARTICLE_NAME
MAX_BYTES = 4 << 20          # an article larger than this is not the article: refused, not read


class ArticleError(UserError):
    """One-line, actionable reason the article cannot be used."""


@dataclass(frozen=True)
class Command:
    line: int       # 1-based line in the article
    text: str       # the command exactly as written


def normalize(text: str) -> str:
    """Markdown emphasis and whitespace do not count when finding a quote."""
    text = re.sub(r"\*\*|__", "", text)
    return re.sub(r"\s+", " ", text).strip()


_LEAD_WORD = re.compile(r"\w")         # a block's text before a quote with a word in it (not just "# ", "- ")
_SENTENCE_END = re.compile(r"""[.!?…:]["'”’)\]]*\s+$""")


def _inline_text(children) -> str:
    """An inline token's text as rendered: text and code spans, breaks as spaces, raw HTML dropped."""
    parts = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(_inline_text(child.children or []))
    return " ".join("".join(parts).split())


def _render_quote(quote: str) -> str:
    """A ledger quote rendered as the article's inline text is (emphasis and backticks gone)."""
    from markdown_it import MarkdownIt
    tokens = MarkdownIt("commonmark").parseInline(" ".join(quote.split()))
    return _inline_text(tokens[0].children or []) if tokens else ""


class Article:
    def __init__(self, path: Path | str = DEFAULT_PATH):
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
        out: list[str] = []
        where: list[int] = []
        for number, line in enumerate(self.lines, 1):
            norm = normalize(line)
            if norm:
                if out:
                    out.append(" ")
                    where.append(number)
                out.extend(norm)
                where.extend([number] * len(norm))
        return "".join(out), where

    @cached_property
    def rendered(self) -> list[str]:
        """The article as a reader sees it: the text of each rendered block (a paragraph, heading,
        list item's paragraph, table cell, each line of a code block), without what does not render
        -- HTML comments and other raw HTML, link reference definitions, emphasis marks."""
        from markdown_it import MarkdownIt
        tokens = MarkdownIt("commonmark").enable("table").parse(self.text)
        blocks: list[str] = []
        for token in tokens:
            if token.type == "inline":
                blocks.append(_inline_text(token.children or []))
            elif token.type in ("fence", "code_block"):
                lines = [" ".join(line.split()) for line in token.content.splitlines() if line.strip()]
                blocks += [*lines, " ".join(lines)]         # a quote may span the block's lines
        return [b for b in blocks if b]

    def says(self, quote: str) -> bool:
        """Whether the rendered article says `quote` (rendered the same way) with the sentence's own
        boundaries: a quote that starts a sentence (a capital letter, a symbol) starts one here too
        -- at a block's start (after marks only: "# ", "-> ") or after a sentence's end, so "It is
        false that …" no longer says it
        -- and any quote starts and ends at word boundaries.  Text in a comment is not said."""
        wanted = _render_quote(quote)
        if not wanted:
            return False
        starts_sentence = not wanted[0].islower()
        for block in self.rendered:
            for match in re.finditer(re.escape(wanted), block):
                before, after = block[:match.start()], block[match.end():]
                if before and before[-1].isalnum() or after and after[0].isalnum() and wanted[-1].isalnum():
                    continue
                if starts_sentence and _LEAD_WORD.search(before) and not _SENTENCE_END.search(before):
                    continue
                return True
        return False

    def locate(self, quote: str) -> int | None:
        """1-based line where `quote` starts, or None when it no longer occurs."""
        flat, where = self._flat
        index = flat.find(normalize(quote))
        return where[index] if index >= 0 else None
