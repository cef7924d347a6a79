"""The v1 and ABEJA pages' renderings, written for speed (one literal per entry, a page's creators
rendered once), give the bytes the plain merged renderings gave, for repositories and tags with
every optional field set and unset, and models' key order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from repohub.api.abeja import schemas as abeja
from repohub.api.render import iso
from repohub.api.v1 import schemas as v1
from repohub.domain.entities import (
    Creator,
    CreatorFacts,
    Namespace,
    NamespaceKind,
    Page,
    Repository,
    Role,
    Tag,
)
from tests.api.plain_pages import HARD_TEXT

AT = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
WHOLE = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)  # a zero fraction, which iso still writes
ELSEWHERE = datetime(2024, 5, 6, 9, 8, 9, 5, tzinfo=timezone(timedelta(hours=2)))
ALICE = Creator(1, "alice", "alice@example.test", "Alice", AT, WHOLE)
BOB = Creator(2, "bob", None, None, WHOLE, AT)


def repository(number: int, *, full: bool, creator: Creator | None = ALICE) -> Repository:
    """``full``: every optional field set (texts, times, counters); else each empty, None or zero."""
    return Repository(
        id=number, namespace_id=7, namespace="acme", name=f"team/app{number}",
        description=HARD_TEXT if full else "", full_description=HARD_TEXT if full else "",
        category="other", is_public=full, is_automated=full, logo="x.png" if full else "",
        creator=creator, size=10 if full else 0, tag_count=3 if full else 0,
        download_count=5 if full else 0, upload_count=6 if full else 0, star_count=2 if full else 0,
        pulled_at=AT if full else None, pushed_at=ELSEWHERE if full else None,
        created_at=WHOLE if full else AT, updated_at=ELSEWHERE if full else WHOLE,
    )  # fmt: skip


REPOSITORIES = [
    repository(1, full=True),
    repository(2, full=False),
    repository(3, full=True, creator=None),
    repository(4, full=False, creator=BOB),
    repository(5, full=True, creator=ALICE),
]


def fastapi_bytes(model: Any, fields: Any) -> bytes:
    """What FastAPI's response-model path wrote for ``fields`` read by ``model``."""
    validated = model.model_validate(fields).model_dump(mode="json")
    return json.dumps(validated, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def old_v1_counters(repo: Repository) -> dict[str, Any]:
    """v1's entry before issue 19: ``_base`` merged into the counters."""
    base = {
        "repo_name": repo.name, "namespace": repo.namespace, "repo_path": repo.path,
        "description": repo.description, "is_public": repo.is_public, "logo": repo.logo,
        "created_at": iso(repo.created_at), "updated_at": iso(repo.updated_at),
    }  # fmt: skip
    return {
        **base, "is_automated": repo.is_automated, "full_description": repo.full_description,
        "repo_starred_count": repo.star_count, "download": repo.download_count,
        "upload": repo.upload_count, "pulled_at": iso(repo.pulled_at), "pushed_at": iso(repo.pushed_at),
    }  # fmt: skip


@pytest.mark.parametrize("repo", REPOSITORIES)
def test_a_v1_list_entry_and_detail_are_the_bytes_they_were(repo: Repository) -> None:
    listed = {**old_v1_counters(repo), "creation_at": iso(repo.created_at)}
    assert orjson.dumps(v1.listed_fields(repo)) == orjson.dumps(listed)
    assert orjson.dumps(v1.listed_fields(repo)) == fastapi_bytes(v1.ListedRepository, listed)
    for starred in (True, False):
        detail = {
            **old_v1_counters(repo),
            "logo_file": f"/static/images/{repo.logo}",
            "is_repo_starred": starred,
        }
        assert orjson.dumps(v1.detail_fields(repo, starred=starred)) == orjson.dumps(detail)
        assert orjson.dumps(detail) == fastapi_bytes(v1.RepositoryDetail, detail)


NAMESPACE = Namespace(7, "acme", NamespaceKind.ORG, "Acme", 1, WHOLE, AT)
FACTS = [
    CreatorFacts(roles={1: Role.ADMIN}, insider=True, caller_id=1),
    CreatorFacts(roles={1: Role.ADMIN, 2: Role.MEMBER}, insider=False, caller_id=2),
    CreatorFacts(roles={}, insider=False),
]


def old_abeja_creator(creator: Creator | None, facts: CreatorFacts) -> dict[str, Any] | None:
    if creator is None:
        return None
    role = facts.role(creator)
    return {
        "id": str(creator.id), "email": facts.email(creator), "display_name": creator.display_name,
        "role": role.value if role else None, "is_registered": True,
        "created_at": iso(creator.created_at), "updated_at": iso(creator.updated_at),
    }  # fmt: skip


def old_envelope(page: Page[Any]) -> dict[str, Any]:
    return {
        "offset": page.offset, "limit": page.limit, "has_next": page.has_next,
        "organization_name": NAMESPACE.name, "created_at": iso(NAMESPACE.created_at),
        "updated_at": iso(NAMESPACE.updated_at),
    }  # fmt: skip


@pytest.mark.parametrize("facts", FACTS)
def test_an_abeja_repository_page_is_the_bytes_it_was(facts: CreatorFacts) -> None:
    page = Page(items=REPOSITORIES, total=9, offset=2, limit=5)
    old = {
        **old_envelope(page),
        "organization_id": NAMESPACE.id,
        "registry_repositories": [
            {
                "id": str(repo.id),
                "organization_id": str(repo.namespace_id),
                "name": repo.name,
                "description": repo.description or None,
                "creator": old_abeja_creator(repo.creator, facts),
                "created_at": iso(repo.created_at),
                "updated_at": iso(repo.updated_at),
            }
            for repo in page.items
        ],
    }
    rendered = orjson.dumps(abeja.repository_page_fields(NAMESPACE, page, facts))
    assert rendered == orjson.dumps(old) == fastapi_bytes(abeja.RepositoryPage, old)


def tag(number: int, creator: Creator | None) -> Tag:
    return Tag(
        id=number, repository_id=1, name=f"v{number}", digest=f"sha256:{number:064x}", image_id="i",
        media_type="application/vnd.oci.image.manifest.v1+json", size=number, manifest=None,
        creator=creator, created_at=AT if number % 2 else WHOLE, updated_at=ELSEWHERE, pull_count=0,
        pulled_at=None,
    )  # fmt: skip


@pytest.mark.parametrize("facts", FACTS)
def test_an_abeja_tag_page_is_the_bytes_it_was(facts: CreatorFacts) -> None:
    page = Page(items=[tag(1, ALICE), tag(2, None), tag(3, BOB), tag(4, ALICE)], total=4, offset=0, limit=10)
    old = {
        **old_envelope(page),
        "organization_id": str(NAMESPACE.id),
        "registry_repository_id": "1",
        "tags": [
            {
                "id": item.id,
                "name": item.name,
                "digest": item.digest,
                "media_type": item.media_type,
                "size": item.size,
                "creator": old_abeja_creator(item.creator, facts),
                "created_at": iso(item.created_at),
                "updated_at": iso(item.updated_at),
            }
            for item in page.items
        ],
    }
    rendered = orjson.dumps(abeja.tag_page_fields(NAMESPACE, REPOSITORIES[0], page, facts))
    assert rendered == orjson.dumps(old) == fastapi_bytes(abeja.TagPage, old)
