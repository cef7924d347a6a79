"""A repository's full description as HTML: CommonMark with tables and strikethrough, and nothing
a description's author could run in a reader's browser.

markdown-it-py with ``html`` off writes any raw HTML in the source as text (``<script>`` shows as
``&lt;script&gt;``), so no tag or attribute of the author's reaches the page; its link check refuses
``javascript:``, ``vbscript:``, ``file:`` and ``data:`` URLs (but images'). On top of that, links
may only be http(s), mailto or relative, and every link gets ``rel="nofollow noopener"``; an image is
a link to it (http(s) or relative), so a page loads nothing from another host. The pages'
Content-Security-Policy (``pages.HEADERS``) forbids inline script as a second wall.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import escape

__all__ = ["MAX_HTML", "MAX_SOURCE", "Readme", "readme", "render_markdown"]

_LINK_SCHEMES = ("http:", "https:", "mailto:")
_IMAGE_SCHEMES = ("http:", "https:")


def _allowed(url: str, schemes: Sequence[str]) -> bool:
    lowered = url.strip().lower()
    if ":" not in lowered.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]:
        return True  # relative: no scheme before the first '/', '?' or '#'
    return lowered.startswith(tuple(schemes))


def _validate(url: str) -> bool:
    return _allowed(url, _LINK_SCHEMES)


class _Renderer(RendererHTML):
    def _aligned(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        """A table cell's alignment as a class: the pages' CSP admits no inline style."""
        token = tokens[idx]
        style = str(token.attrGet("style") or "")
        if style.startswith("text-align:"):
            del token.attrs["style"]
            token.attrSet("class", "align-" + style.partition(":")[2])
        return self.renderToken(tokens, idx, options, env)

    def th_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return self._aligned(tokens, idx, options, env)

    def td_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return self._aligned(tokens, idx, options, env)

    def link_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        tokens[idx].attrSet("rel", "nofollow noopener")
        return self.renderToken(tokens, idx, options, env)

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        """An image as a link to it, named by its alt text: the page loads nothing from another host
        (a README's badges live elsewhere), and a data: or script URL is its alt text alone."""
        src = str(tokens[idx].attrGet("src") or "")
        alt = escapeHtml(self.renderInlineAsText(tokens[idx].children or [], options, env)) or "image"
        if not _allowed(src, _IMAGE_SCHEMES):
            return alt
        return f'<a href="{escapeHtml(src)}" rel="nofollow noopener">{alt}</a>'


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])
    parser.renderer = _Renderer(parser)
    parser.validateLink = _validate  # type: ignore[method-assign]
    return parser


def render_markdown(source: str) -> str:
    """Safe HTML for ``source`` (module doc); empty for an empty description."""
    if not source.strip():
        return ""
    rendered: Any = _parser().render(source)
    return str(rendered)


@dataclass(frozen=True, slots=True)
class Readme:
    html: str
    cut: bool  # only the beginning of the description is shown


# markdown-it is super-linear on some inputs (100,000 characters of "![" took 1.8 s, 25,000 take
# 0.5 s) and can multiply its output (a 5,000-character table of 600 columns rendered to 660 KB;
# one reference link with a long URL, repeated, to 1 MB). So a page renders at most MAX_SOURCE
# characters, once per distinct text (an LRU), on a thread of its own (not the pool that checks
# passwords), one render per text however many views wait for it; and shows at most MAX_HTML
# bytes: else the first 5,000 characters rendered, else an escaped excerpt of the text. A page then
# stays under 100 KB with its 30 tag rows; the whole text is the API's.
MAX_SOURCE = 25_000
MAX_HTML = 60_000
_FALLBACK_SOURCE = 5_000
_ESCAPED_GROWTH = 6  # bytes an escaped character may take at most ('&#34;', or a 4-byte one plus)


def _fits(html: str) -> bool:
    return len(html.encode()) <= MAX_HTML


def _render_readme(source: str) -> Readme:
    cut = len(source) > MAX_SOURCE
    html = render_markdown(source[:MAX_SOURCE])
    if not _fits(html) and len(source) > _FALLBACK_SOURCE:
        html, cut = render_markdown(source[:_FALLBACK_SOURCE]), True
    if not _fits(html):
        excerpt = source[: MAX_HTML // _ESCAPED_GROWTH - 64]
        html, cut = f'<pre class="readme-text">{escape(excerpt)}</pre>', len(excerpt) < len(source)
    return Readme(html, cut)


_RENDERED: OrderedDict[str, Readme] = OrderedDict()
_RENDERED_KEPT = 128  # at most 128 x 60 KB of HTML, and their texts
_PENDING: dict[str, asyncio.Future[Readme]] = {}
_RENDERER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="repohub-readme")


async def readme(source: str) -> Readme:
    """The README of a page: rendered on the README thread unless this text was rendered lately
    or is being rendered for another view (which this one then waits for)."""
    key = source[: MAX_SOURCE + 1]  # what decides the rendering, and whether it is cut
    found = _RENDERED.get(key)
    if found is not None:
        _RENDERED.move_to_end(key)
        return found
    pending = _PENDING.get(key)
    if pending is None:
        pending = asyncio.get_running_loop().run_in_executor(_RENDERER, _render_readme, key)
        _PENDING[key] = pending
        pending.add_done_callback(lambda _done: _PENDING.pop(key, None))
    found = await asyncio.shield(pending)
    _RENDERED[key] = found
    if len(_RENDERED) > _RENDERED_KEPT:
        _RENDERED.popitem(last=False)
    return found
