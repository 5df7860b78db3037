"""Links from the README and the docs to repository files lead somewhere (the mkdocs hook turns
them into repository links at build time and stops the build on a broken one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from docs.hooks import DOCS, ROOT, github_anchors, repository_link_errors, rewrite_links

PAGES = sorted(DOCS.rglob("*.md"))


def test_readme_links_lead_to_files_and_headings():
    assert repository_link_errors((ROOT / "README.md").read_text(), ROOT) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_docs_links_to_repository_files_lead_somewhere(page: Path):
    assert repository_link_errors(page.read_text(), page.parent) == []


def test_anchors_are_made_as_github_makes_them():
    text = "# Benchmark results\n## 9. Redaction cost\n### Runbook: TailDecisionOverflow\n"
    text += "## A `code` name\n## A\n## A\n"
    assert github_anchors(text) == {
        "benchmark-results", "9-redaction-cost", "runbook-taildecisionoverflow", "a-code-name", "a", "a-1"
    }


def test_a_missing_anchor_or_file_is_reported_and_a_good_link_is_rewritten():
    markdown = (
        "[a](../benchmarks/RESULTS.md#redaction-cost) [b](../no/such/file.md) "
        "[c](../rules/RUNBOOK.md#runbook-taildecisionoverflow) [d](metrics.md) [e](https://example.org)\n"
        "```text\n[not a link](../no/such/file.md)\n```\n"
    )
    text, errors = rewrite_links(markdown, DOCS, "https://github.com/o/r", "main")
    assert len(errors) == 2
    assert "has no heading with the anchor #redaction-cost" in errors[0]
    assert "does not exist" in errors[1]
    assert "(https://github.com/o/r/blob/main/rules/RUNBOOK.md#runbook-taildecisionoverflow)" in text
    assert "[d](metrics.md)" in text and "[e](https://example.org)" in text  # left to mkdocs
    assert "[not a link](../no/such/file.md)" in text


def test_a_folder_link_becomes_a_tree_link():
    text, errors = rewrite_links("[x](../collector/pgstatsreceiver/)", DOCS, "https://h/o/r", "main")
    assert errors == [] and "(https://h/o/r/tree/main/collector/pgstatsreceiver)" in text
