"""Help articles: Markdown with YAML front matter (id, title, questions, tags, language, translation_of).

Articles load recursively, so translations live beside their language: `articles/<lang>/<name>.md`
with `translation_of: <English id>`; the knowledge base answers a fan from the translation in their
language when the article they asked about has one (knowledge_base/retriever.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from nlu.yamlfile import DataError, load_located

_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n?(.*)\Z", re.DOTALL)
ALLOWED = {"id", "title", "questions", "tags", "language", "url", "translation_of"}


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    body: str
    questions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    language: str = "en"
    url: str | None = None
    file: str = ""
    translation_of: str | None = None  # the id of the article this translates (None: an original)
    translation_of_line: int | None = None

    @property
    def group(self) -> str:
        """The id shared by an article and all its translations: the original's."""
        return self.translation_of or self.id

    def chunks(self) -> list[tuple[str, str]]:
        """(kind, text) pieces that are embedded: title, each question variant, body paragraphs."""
        out = [("title", self.title)] + [("question", q) for q in self.questions]
        paras = [p.strip() for p in re.split(r"\n\s*\n", self.body) if p.strip()]
        buf = ""
        for p in paras:
            p = re.sub(r"^#+\s*", "", p)
            if len(buf) + len(p) < 500:
                buf = (buf + "\n" + p).strip()
            else:
                if buf:
                    out.append(("body", buf))
                buf = p
        if buf:
            out.append(("body", buf))
        return out

    def summary(self, max_chars: int = 700) -> str:
        """The answer text: the body without Markdown headings, cut at a sentence end."""
        text = "\n".join(line for line in self.body.strip().splitlines() if not line.startswith("#")).strip()
        text = re.sub(r"\n{3,}", "\n\n", text).replace("**", "")
        if len(text) <= max_chars:
            return text
        cut = text[:max_chars]
        end = max(cut.rfind(". "), cut.rfind(".\n"), cut.rfind("\n"))
        return (cut[: end + 1] if end > max_chars // 2 else cut.rstrip() + "…").strip()


def parse_article(text: str, file: str | Path) -> Article:
    m = _FRONT.match(text.replace("\r\n", "\n"))
    if not m:
        raise DataError("article must start with '---' front matter", file, 1)
    located = load_located(m.group(1), file)
    meta = located.data or {}
    if not isinstance(meta, dict):
        raise DataError("front matter must be a mapping", file, 2)
    for key in meta:
        if key not in ALLOWED:
            raise DataError("unknown key", file, (located.line_of((str(key),)) or 0) + 1, str(key))
    for key in ("title",):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise DataError("missing or empty", file, 2, key)
    questions = meta.get("questions") or []
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise DataError("must be a list of strings", file, (located.line_of(("questions",)) or 0) + 1, "questions")
    tags = meta.get("tags") or []
    original = meta.get("translation_of")
    original_line = (located.line_of(("translation_of",)) or 0) + 1
    if original is not None and (not isinstance(original, str) or not original.strip()):
        raise DataError("must be the id of the article this translates", file, original_line, "translation_of")
    return Article(
        id=str(meta.get("id") or Path(file).stem),
        title=meta["title"].strip(),
        body=m.group(2).strip(),
        questions=tuple(q.strip() for q in questions if q.strip()),
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (str(tags),),
        language=str(meta.get("language") or "en"),
        url=meta.get("url"),
        file=str(file),
        translation_of=original.strip() if original else None,
        translation_of_line=original_line if original else None,
    )


def load_articles(directory: str | Path) -> list[Article]:
    d = Path(directory)
    if not d.is_dir():
        raise DataError("knowledge base directory not found", d)
    articles = []
    seen: dict[str, str] = {}
    for f in sorted(d.rglob("*.md")):
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise DataError("file is not valid UTF-8", f) from None
        a = parse_article(text, f)
        if a.id in seen:
            raise DataError(f"duplicate article id {a.id!r} (also in {seen[a.id]})", f, 2, "id")
        seen[a.id] = str(f)
        articles.append(a)
    by_id = {a.id: a for a in articles}
    for a in articles:
        if a.translation_of is None:
            continue
        original = by_id.get(a.translation_of)
        if original is None:
            raise DataError(f"unknown article id {a.translation_of!r}", a.file, a.translation_of_line,
                            "translation_of")
        if original.translation_of is not None:
            raise DataError(f"{a.translation_of!r} is itself a translation (name the original article)", a.file,
                            a.translation_of_line, "translation_of")
    return articles
