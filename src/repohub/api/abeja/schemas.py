"""Wire models of the ABEJA dialect, field for field as in the abeja-sdk's documented responses.

Ids are decimal strings, except where ABEJA's samples show numbers: a tag's ``id`` and the
``organization_id`` of the repository-list envelope.

The list and tag pages render the ``*_fields`` dictionaries the models are made of, unvalidated
(``api.routing.PlainRoute``); the models document them, and tests hold the two to each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from repohub.api.render import iso
from repohub.domain.entities import Creator as CreatorEntity
from repohub.domain.entities import CreatorFacts, Namespace, Page, Repository, Tag


class RepositoryCreate(BaseModel):
    """What ``create_repository`` sends; anything else is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")
    name: StrictStr
    description: StrictStr | None = None


_HIDDEN = "; null unless the caller is a member of the organization or the creator"


class Creator(BaseModel):
    id: str
    email: str | None = Field(description="the creator's e-mail" + _HIDDEN)
    display_name: str | None
    role: str | None = Field(description="the creator's role in the organization (null: no member)" + _HIDDEN)
    is_registered: bool
    created_at: str | None
    updated_at: str | None

    @classmethod
    def of(cls, creator: CreatorEntity | None, facts: CreatorFacts) -> Creator | None:
        fields = creator_fields(creator, facts)
        return None if fields is None else cls(**fields)


Shown = dict[int, dict[str, Any]]  # a page's creators as rendered, by id


def creator_fields(
    creator: CreatorEntity | None, facts: CreatorFacts, shown: Shown | None = None
) -> dict[str, Any] | None:
    """``shown``: the creators a page has rendered already; one rendering for all the rows of one
    page that share a creator (the same user's values), ~2 µs a row where one user made them all."""
    if creator is None:
        return None
    if shown is not None:
        fields = shown.get(creator.id)
        if fields is None:
            fields = shown[creator.id] = _creator_fields(creator, facts)
        return fields
    return _creator_fields(creator, facts)


def _creator_fields(creator: CreatorEntity, facts: CreatorFacts) -> dict[str, Any]:
    role = facts.role(creator)
    return {
        "id": str(creator.id),
        "email": facts.email(creator),
        "display_name": creator.display_name,
        "role": role.value if role else None,
        "is_registered": True,  # every repohub user has finished signing up
        "created_at": iso(creator.created_at),
        "updated_at": iso(creator.updated_at),
    }


class TagItem(BaseModel):
    id: int
    name: str
    digest: str
    media_type: str
    size: int
    creator: Creator | None
    created_at: str | None
    updated_at: str | None

    @classmethod
    def of(cls, tag: Tag, facts: CreatorFacts) -> TagItem:
        return cls(**tag_fields(tag, facts))


def tag_fields(tag: Tag, facts: CreatorFacts, shown: Shown | None = None) -> dict[str, Any]:
    return {
        "id": tag.id,
        "name": tag.name,
        "digest": tag.digest,
        "media_type": tag.media_type,
        "size": tag.size,
        "creator": creator_fields(tag.creator, facts, shown),
        "created_at": iso(tag.created_at),
        "updated_at": iso(tag.updated_at),
    }


class ListedRepository(BaseModel):
    id: str
    organization_id: str
    name: str
    description: str | None
    creator: Creator | None
    created_at: str | None
    updated_at: str | None

    @classmethod
    def of(cls, repo: Repository, facts: CreatorFacts) -> ListedRepository:
        return cls(**listed_fields(repo, facts))


def listed_fields(repo: Repository, facts: CreatorFacts, shown: Shown | None = None) -> dict[str, Any]:
    return {
        "id": str(repo.id),
        "organization_id": str(repo.namespace_id),
        "name": repo.name,
        "description": repo.description or None,  # ABEJA shows a missing description as null
        "creator": creator_fields(repo.creator, facts, shown),
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.updated_at),
    }


class RepositoryDetail(ListedRepository):
    tags: list[TagItem]

    @classmethod
    def with_tags(cls, repo: Repository, tags: Sequence[Tag], facts: CreatorFacts) -> RepositoryDetail:
        listed = ListedRepository.of(repo, facts)
        return cls(**listed.model_dump(), tags=[TagItem.of(tag, facts) for tag in tags])


class Organization(BaseModel):
    id: str
    name: str
    display_name: str | None
    created_at: str | None
    updated_at: str | None

    @classmethod
    def of(cls, namespace: Namespace) -> Organization:
        return cls(
            id=str(namespace.id),
            name=namespace.name,
            display_name=namespace.display_name,
            created_at=iso(namespace.created_at),
            updated_at=iso(namespace.updated_at),
        )


class _Envelope(BaseModel):
    offset: int
    limit: int
    has_next: bool
    organization_name: str
    created_at: str | None
    updated_at: str | None


def _envelope(namespace: Namespace, page: Page[Any]) -> dict[str, Any]:
    return {
        "offset": page.offset,
        "limit": page.limit,
        "has_next": page.has_next,
        "organization_name": namespace.name,
        "created_at": iso(namespace.created_at),
        "updated_at": iso(namespace.updated_at),
    }


class RepositoryPage(_Envelope):
    organization_id: int  # a number here, as in ABEJA's sample (a string everywhere else)
    registry_repositories: list[ListedRepository]

    @classmethod
    def of(cls, namespace: Namespace, page: Page[Repository], facts: CreatorFacts) -> RepositoryPage:
        return cls(**repository_page_fields(namespace, page, facts))


def repository_page_fields(
    namespace: Namespace, page: Page[Repository], facts: CreatorFacts
) -> dict[str, Any]:
    """The repository list, as :class:`RepositoryPage` writes it (the page renders this directly)."""
    shown: Shown = {}
    return {
        **_envelope(namespace, page),
        "organization_id": namespace.id,
        "registry_repositories": [listed_fields(repo, facts, shown) for repo in page.items],
    }


class TagPage(_Envelope):
    organization_id: str
    registry_repository_id: str
    tags: list[TagItem]

    @classmethod
    def of(cls, namespace: Namespace, repo: Repository, page: Page[Tag], facts: CreatorFacts) -> TagPage:
        return cls(**tag_page_fields(namespace, repo, page, facts))


def tag_page_fields(
    namespace: Namespace, repo: Repository, page: Page[Tag], facts: CreatorFacts
) -> dict[str, Any]:
    """The tag page, as :class:`TagPage` writes it (the page renders this directly)."""
    shown: Shown = {}
    return {
        **_envelope(namespace, page),
        "organization_id": str(namespace.id),
        "registry_repository_id": str(repo.id),
        "tags": [tag_fields(tag, facts, shown) for tag in page.items],
    }


class Error(BaseModel):
    error: str
    error_description: str
    error_detail: dict[str, str] | None = None
