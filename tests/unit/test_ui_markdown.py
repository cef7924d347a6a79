"""A repository's README as the catalogue renders it: Markdown's structure, and nothing an author
could run in a reader's browser (no raw HTML, no script URL, no image from another host)."""

from __future__ import annotations

import asyncio
from html.parser import HTMLParser

import pytest

from repohub.api.ui.markdown import MAX_HTML, MAX_SOURCE, readme, render_markdown


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(html)
    return parser.found


def test_markdown_structure_is_rendered() -> None:
    source = "# Title\n\n- one\n- two\n\n`code` and **bold**\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    html = render_markdown(source)
    assert [tag for tag, _ in elements(html)] == [
        "h1", "ul", "li", "li", "p", "code", "strong", "table", "thead", "tr", "th", "th", "tbody",
        "tr", "td", "td",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "text <b onmouseover=alert(1)>bold</b> inline",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src=//evil.example></iframe>",
        "<svg onload=alert(1)>",
        "<style>body{display:none}</style>",
    ],
)
def test_raw_html_is_text_not_markup(source: str) -> None:
    html = render_markdown(source)
    assert [tag for tag, _ in elements(html)] == ["p"]
    assert "&lt;" in html


@pytest.mark.parametrize(
    "source",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](file:///etc/passwd)",
        "<javascript:alert(1)>",
    ],
)
def test_script_and_local_urls_make_no_link(source: str) -> None:
    assert all(tag != "a" for tag, _ in elements(render_markdown(source)))


def test_links_are_kept_with_nofollow() -> None:
    found = elements(render_markdown("[docs](https://example.com/docs) [rel](../other) [mail](mailto:a@b.c)"))
    links = [attrs for tag, attrs in found if tag == "a"]
    assert [link["href"] for link in links] == ["https://example.com/docs", "../other", "mailto:a@b.c"]
    assert all(link["rel"] == "nofollow noopener" for link in links)


def test_images_become_links_so_the_page_loads_nothing_from_elsewhere() -> None:
    found = elements(render_markdown("![build](https://ci.example/badge.svg) ![x](data:image/png;base64,AA)"))
    assert [tag for tag, _ in found] == ["p", "a"]
    assert found[1][1]["href"] == "https://ci.example/badge.svg"


def test_an_empty_description_renders_nothing() -> None:
    assert render_markdown("") == render_markdown("  \n ") == ""


def test_table_alignment_is_a_class_not_an_inline_style() -> None:
    html = render_markdown("| a | b |\n|:--|--:|\n| 1 | 2 |")
    assert "style=" not in html
    assert '<th class="align-left">a</th>' in html and '<td class="align-right">2</td>' in html


@pytest.mark.parametrize(
    "source",
    [
        "[a]: http://x.example/" + "b" * 2500 + "\n\n" + "[a]" * 820,  # one long link, repeated
        "|" + "a|" * 600 + "\n|" + "-|" * 600 + "\n" + "b\n" * 1300,  # a wide table, autocompleted
        "\U0001f600" * 25_000,  # four bytes a character
        '"&<' * 8_000,  # every character escaped
    ],
)
async def test_a_readme_is_shown_in_at_most_max_html_bytes(source: str) -> None:
    shown = await readme(source)
    assert len(shown.html.encode()) <= MAX_HTML and shown.html


async def test_a_readme_that_fits_is_not_cut_and_one_render_serves_concurrent_views() -> None:
    source = "# Once\n\n" + "a unique paragraph. " * 100
    views = await asyncio.gather(*(readme(source) for _ in range(12)))
    assert all(view is views[0] for view in views) and not views[0].cut
    assert (await readme("x" * (MAX_SOURCE + 10))).cut
