"""Wire models of the v1 dialect, named and shaped as in the Alauda seed.

The list and detail pages render the ``*_fields`` dictionaries the models are made of, unvalidated
(``api.routing.PlainRoute``); the models document them, and tests hold the two to each other.

The seed names times differently per endpoint (creation_time, creation_at, created_at); each model
carries the seed's names and also created_at/updated_at, so a client can rely on one pair.
"""

from __future__ import annotations

from typing import Any, TypedDict

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator
from pydantic.json_schema import SkipJsonSchema

from repohub.api.render import iso
from repohub.domain.entities import Repository, Tag

_FORBID = ConfigDict(extra="forbid")


class LoginRequest(BaseModel):
    model_config = _FORBID
    username: StrictStr
    password: StrictStr


class LoginResponse(BaseModel):
    token: str
    username: str


class RepositoryCreate(BaseModel):
    model_config = _FORBID
    repo_name: StrictStr
    description: StrictStr = ""
    is_public: StrictBool = False
    namespace: StrictStr | None = None
    full_description: StrictStr = ""


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # "default": null would contradict the non-null type


def _unchanged_if_left_out() -> Any:
    return Field(default=None, json_schema_extra=_drop_default, description="left out: unchanged")


class RepositoryUpdate(BaseModel):
    """Only these may change; any other field (repo_name, namespace...) is rejected, not ignored.
    A field left out stays as it is; null is rejected, as in a create."""

    model_config = _FORBID
    description: StrictStr | SkipJsonSchema[None] = _unchanged_if_left_out()
    full_description: StrictStr | SkipJsonSchema[None] = _unchanged_if_left_out()
    is_public: StrictBool | SkipJsonSchema[None] = _unchanged_if_left_out()

    @field_validator("description", "full_description", "is_public", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Runs only for fields present in the body, so leaving one out still works. Read as "no
        # change", a null answered 200 to a client that meant to clear the field.
        if value is None:
            raise ValueError("may be left out but not null")
        return value


class _Base(BaseModel):
    repo_name: str
    namespace: str
    repo_path: str
    description: str
    is_public: bool
    logo: str
    created_at: str
    updated_at: str


class CreatedRepository(_Base):
    is_automated: bool
    creation_time: str
    updated_time: str
    full_description: str

    @classmethod
    def of(cls, repo: Repository) -> CreatedRepository:
        created, updated = iso(repo.created_at) or "", iso(repo.updated_at) or ""
        return cls(
            **_base(repo),
            is_automated=repo.is_automated,
            creation_time=created,
            updated_time=updated,
            full_description=repo.full_description,
        )


class UpdatedRepository(_Base):
    @classmethod
    def of(cls, repo: Repository) -> UpdatedRepository:
        return cls(**_base(repo))


class _Counters(_Base):
    is_automated: bool
    full_description: str
    repo_starred_count: int
    download: int
    upload: int
    pulled_at: str | None
    pushed_at: str | None


class _BaseFields(TypedDict):
    """The keyword arguments of ``_Base``, typed so that ``cls(**_base(repo))`` is checked."""

    repo_name: str
    namespace: str
    repo_path: str
    description: str
    is_public: bool
    logo: str
    created_at: str
    updated_at: str


class _CounterFields(_BaseFields):
    is_automated: bool
    full_description: str
    repo_starred_count: int
    download: int
    upload: int
    pulled_at: str | None
    pushed_at: str | None


def _counters(repo: Repository, created: str) -> _CounterFields:
    # One literal in ``_base``'s order then the counters', each time written once (``created``
    # twice in a list entry): merged from ``_base``, a list page's 20 entries cost ~45 µs more (issue 19).
    return {
        "repo_name": repo.name,
        "namespace": repo.namespace,
        "repo_path": f"{repo.namespace}/{repo.name}",  # ``Repository.path``
        "description": repo.description,
        "is_public": repo.is_public,
        "logo": repo.logo,
        "created_at": created,
        "updated_at": iso(repo.updated_at),
        "is_automated": repo.is_automated,
        "full_description": repo.full_description,
        "repo_starred_count": repo.star_count,
        "download": repo.download_count,
        "upload": repo.upload_count,
        "pulled_at": None if repo.pulled_at is None else iso(repo.pulled_at),
        "pushed_at": None if repo.pushed_at is None else iso(repo.pushed_at),
    }


class _ListedFields(_CounterFields):
    creation_at: str


class _DetailFields(_CounterFields):
    logo_file: str
    is_repo_starred: bool


def listed_fields(repo: Repository) -> _ListedFields:
    """A list page's entry, as :class:`ListedRepository` writes it (the page renders this directly)."""
    created = iso(repo.created_at)
    return {**_counters(repo, created), "creation_at": created}


def detail_fields(repo: Repository, *, starred: bool) -> _DetailFields:
    """The detail, as :class:`RepositoryDetail` writes it (the page renders this directly)."""
    return {
        **_counters(repo, iso(repo.created_at)),
        "logo_file": f"/static/images/{repo.logo}",
        "is_repo_starred": starred,
    }


class ListedRepository(_Counters):
    creation_at: str

    @classmethod
    def of(cls, repo: Repository) -> ListedRepository:
        return cls(**listed_fields(repo))


class RepositoryDetail(_Counters):
    logo_file: str
    is_repo_starred: bool

    @classmethod
    def of(cls, repo: Repository, *, starred: bool) -> RepositoryDetail:
        return cls(**detail_fields(repo, starred=starred))


class RepositoryPage(BaseModel):
    count: int
    next: str | None
    previous: str | None
    results: list[ListedRepository]


class TagItem(BaseModel):
    image_id: str
    tag: str
    digest: str
    created_at: str
    updated_at: str
    # The tag's own pull facts, under the names the repository detail gives its own.
    download: int
    pulled_at: str | None

    @classmethod
    def of(cls, tag: Tag) -> TagItem:
        return cls(
            image_id=tag.image_id,
            tag=tag.name,
            digest=tag.digest,
            created_at=iso(tag.created_at) or "",
            updated_at=iso(tag.updated_at) or "",
            download=tag.pull_count,
            pulled_at=iso(tag.pulled_at),
        )


class StarState(BaseModel):
    repo_starred_count: int
    is_repo_starred: bool


class Error(BaseModel):
    detail: str
    code: str


def _base(repo: Repository) -> _BaseFields:
    return {
        "repo_name": repo.name,
        "namespace": repo.namespace,
        "repo_path": repo.path,
        "description": repo.description,
        "is_public": repo.is_public,
        "logo": repo.logo,
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.updated_at),
    }
