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
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

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


# markdown-it is super-linear on some inputs: 100,000 characters of "![" took 1.8 s, 25,000 take
# 0.5 s, and a README renders on every view of its page. So a page renders at most MAX_SOURCE
# characters, off the event loop, once per distinct text (LRU), and shows at most MAX_HTML bytes
# of it (a page stays under 100 KB with its 30 tag rows); the whole text is the API's.
MAX_SOURCE = 25_000
MAX_HTML = 60_000
_FALLBACK_SOURCE = 5_000  # a text whose first MAX_SOURCE characters render larger than MAX_HTML


def _render_readme(source: str) -> Readme:
    cut = len(source) > MAX_SOURCE
    html = render_markdown(source[:MAX_SOURCE])
    if len(html) > MAX_HTML:  # markup-dense text: its beginning (at most 5x: every '&' an '&amp;')
        html, cut = render_markdown(source[:_FALLBACK_SOURCE]), True
    return Readme(html, cut)


_RENDERED: OrderedDict[str, Readme] = OrderedDict()
_RENDERED_KEPT = 128


async def readme(source: str) -> Readme:
    """The README of a page: rendered in a worker thread unless this text was rendered lately."""
    key = source[: MAX_SOURCE + 1]  # what decides the rendering, and whether it is cut
    found = _RENDERED.get(key)
    if found is not None:
        _RENDERED.move_to_end(key)
        return found
    found = await asyncio.to_thread(_render_readme, key)
    _RENDERED[key] = found
    if len(_RENDERED) > _RENDERED_KEPT:
        _RENDERED.popitem(last=False)
    return found
