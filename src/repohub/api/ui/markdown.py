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

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

__all__ = ["render_markdown"]

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
