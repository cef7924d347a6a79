"""The rows of the two hot pages, the repositories list and a repository's tags, as HTML written here.

Jinja escapes every ``{{ }}`` it prints, a markupsafe call each, strings and numbers alike: 18 a
row of the list, 367 a page, half of the page's CPU in process (docs/benchmarks.md, "Web
catalogue"). Here only what a user wrote is escaped (names, descriptions, digests as stored) and
our own numbers and words are formatted as they are. The templates place the rows, whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

from repohub.api.ui.present import Shown, human_size, short_digest
from repohub.domain.entities import RepositorySummary, Tag
from repohub.domain.immutability.guard import Protection

__all__ = ["TagRow", "Timer", "repository_item", "tag_row"]

Timer = Callable[[datetime], Markup]  # a time as ``<time>``, relative to the page's now


def _counted(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def repository_item(repo: RepositorySummary, root: str, when: Timer) -> Markup:
    """One repository of the list: its path and link, visibility, description and counts."""
    path = escape(f"{repo.namespace}/{repo.name}")
    shown = "public" if repo.is_public else "private"
    description = f'<p class="description">{escape(repo.description)}</p>' if repo.description else ""
    facts = (
        f"<span>{_counted(repo.tag_count, 'tag')}</span> <span>{_counted(repo.download_count, 'pull')}</span>"
        f" <span>{human_size(repo.size)}</span> <span>{escape(repo.category)}</span>"
        f" <span>updated {when(repo.updated_at)}</span>"
    )
    return Markup(
        f'<li class="repository" data-path="{path}"><a class="name" href="{escape(root)}/r/{path}">{path}</a>'
        f' <span class="badge {shown}">{shown}</span>{description}<p class="facts">{facts}</p></li>'
    )


@dataclass(frozen=True, slots=True)
class TagRow:
    tag: Tag
    media: Shown
    kept: Protection | None  # why a delete of it is refused: a rule protects it or its image

    @property
    def immutable(self) -> bool:
        return self.kept is not None and self.kept.shares is None

    @property
    def protection(self) -> str:
        if self.kept is None:
            return ""
        return "immutable" if self.kept.shares is None else self.kept.reason


def tag_row(row: TagRow, delete_link: str | None, when: Timer) -> Markup:
    """One tag: name, digest (12 hex shown, all on hover and copied), size, what it holds, times,
    pulls and protection; ``delete_link``: the admin's delete, where the page offers it."""
    tag = row.tag
    name, digest = escape(tag.name), escape(tag.digest)
    pulled = when(tag.pulled_at) if tag.pulled_at is not None else "never"
    action = f'<td><a class="delete-tag" href="{escape(delete_link)}">Delete</a></td>' if delete_link else ""
    return Markup(
        f'<tr data-tag="{name}"><th scope="row" class="name">{name}</th>'
        f'<td class="digest" title="{digest}"><code>{escape(short_digest(tag.digest))}</code>'
        f' <button type="button" class="copy" data-copy="{digest}" aria-label="Copy the digest of {name}">'
        "Copy</button></td>"
        f'<td class="size" data-bytes="{tag.size}">{human_size(tag.size)}</td>'
        f'<td class="media">{escape(row.media.label)}</td><td class="pushed">{when(tag.updated_at)}</td>'
        f'<td class="pulled">{pulled}</td><td class="pulls">{tag.pull_count}</td>'
        f'<td class="immutable">{escape(row.protection)}</td>{action}</tr>'
    )
