"""mkdocs hook: links from the docs to repository files outside ``docs/``.

The pages link to ``rules/RUNBOOK.md``, ``benchmarks/RESULTS.md``, ``collector/README.md``...
with ordinary relative links (``../rules/RUNBOOK.md#runbook-x``), which work where the
Markdown is read in the repository. The site has no such files, so before mkdocs reads a page
this hook turns each of those links into a link to the file in the repository
(``repo_url`` + ``edit_uri``'s branch, both in mkdocs.yml, the one place they are written),
after checking that the file exists and that an anchor names one of its headings (as GitHub
makes anchors). A broken one stops the build. Links inside ``docs/`` are left to mkdocs'
own checks (``mkdocs build --strict``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["github_anchors", "on_page_markdown", "repository_link_errors", "rewrite_links"]

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"(\]\()([^)\s]+)(\))")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file (repeats get -1, -2, ...)."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in _HEADING.findall(_FENCE.sub("", markdown)):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        anchors.add(slug if count == 0 else f"{slug}-{count}")
        seen[slug] = count + 1
    return anchors


def _check(target: Path, anchor: str) -> str | None:
    """Why a link to ``target#anchor`` is broken, or None."""
    if not target.exists():
        return f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target} does not exist"
    if anchor and target.suffix == ".md" and anchor not in github_anchors(target.read_text()):
        return f"{target.relative_to(ROOT)} has no heading with the anchor #{anchor}"
    return None


def _outside_docs(page_dir: Path, href: str) -> tuple[Path, str] | None:
    """(repository file, anchor) of a relative link that leaves docs/; None for any other link."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", href) or href.startswith(("#", "/")):
        return None
    path, _, anchor = href.partition("#")
    target = (page_dir / path).resolve()
    if target.is_relative_to(DOCS):
        return None
    return target, anchor


def rewrite_links(markdown: str, page_dir: Path, repo_url: str, branch: str) -> tuple[str, list[str]]:
    """``markdown`` with its links to repository files made absolute; and the broken ones."""
    errors: list[str] = []

    def rewrite(match: re.Match[str]) -> str:
        found = _outside_docs(page_dir, match.group(2))
        if found is None:
            return match.group(0)
        target, anchor = found
        problem = _check(target, anchor)
        if problem is not None:
            errors.append(f"{match.group(2)}: {problem}")
            return match.group(0)
        kind = "tree" if target.is_dir() else "blob"
        path = target.relative_to(ROOT).as_posix()
        url = f"{repo_url}/{kind}/{branch}/{path}" + (f"#{anchor}" if anchor else "")
        return f"{match.group(1)}{url}{match.group(3)}"

    parts, last = [], 0
    for fence in _FENCE.finditer(markdown):  # code blocks are left as they are
        parts.append(_LINK.sub(rewrite, markdown[last : fence.start()]))
        parts.append(fence.group(0))
        last = fence.end()
    parts.append(_LINK.sub(rewrite, markdown[last:]))
    return "".join(parts), errors


def repository_link_errors(markdown: str, page_dir: Path) -> list[str]:
    """The broken links of a Markdown file to repository files (README.md, or a page)."""
    errors = []
    for match in _LINK.finditer(_FENCE.sub("", markdown)):
        href = match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", href) or href.startswith(("#", "/")):
            continue
        path, _, anchor = href.partition("#")
        problem = _check((page_dir / path).resolve(), anchor)
        if problem is not None:
            errors.append(f"{href}: {problem}")
    return errors


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    from mkdocs.exceptions import PluginError

    branch = config["edit_uri"].strip("/").split("/")[1]  # blob/main/docs/ -> main
    page_dir = (DOCS / page.file.src_path).parent
    text, errors = rewrite_links(markdown, page_dir, config["repo_url"].rstrip("/"), branch)
    if errors:
        raise PluginError(f"{page.file.src_path}: broken links to repository files: {'; '.join(errors)}")
    return text
