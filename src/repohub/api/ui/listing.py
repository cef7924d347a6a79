"""The repositories list's query string: the search box, the filters, the order and the page, read
into the domain's query (the SWR list's read: ``CatalogService.list_repository_summaries``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from repohub.defaults import SWR_MAX_OFFSET
from repohub.domain.categories import CATEGORIES, check_category
from repohub.domain.errors import InvalidInput
from repohub.domain.names import MAX_REFERENCE
from repohub.domain.numbers import parse_integer
from repohub.domain.queries import RepoOrder, RepoQuery

__all__ = ["PER_PAGE", "SORTS", "VISIBILITIES", "Listing"]

PER_PAGE = 20
# Each order the Scale issue indexes, in the direction a person wants first.
SORTS: dict[str, tuple[RepoOrder, bool]] = {
    "updated": (RepoOrder.UPDATED_AT, True),
    "name": (RepoOrder.NAME, False),
    "tags": (RepoOrder.TAG_COUNT, True),
    "pulls": (RepoOrder.DOWNLOADS, True),
}
VISIBILITIES = {"": None, "public": True, "private": False}
_MAX_PAGE = SWR_MAX_OFFSET // PER_PAGE + 1  # as deep as the API's offset pages go
_KEYS = ("q", "namespace", "category", "visibility", "sort", "page")


@dataclass(frozen=True, slots=True)
class Listing:
    q: str = ""
    namespace: str = ""
    category: str = ""
    visibility: str = ""
    sort: str = "updated"
    page: int = 1

    @classmethod
    def of(cls, params: Mapping[str, str]) -> Listing:
        """The list's parameters; a wrong one is a 400 page naming it."""
        values = {key: params.get(key, "").strip() for key in _KEYS}
        if len(values["q"]) > MAX_REFERENCE:
            raise InvalidInput(f"search for at most {MAX_REFERENCE} characters", field="q")
        if values["category"]:
            check_category(values["category"])
        if values["visibility"] not in VISIBILITIES:
            raise InvalidInput("visibility is public, private or empty", field="visibility")
        sort = values["sort"] or "updated"
        if sort not in SORTS:
            raise InvalidInput(f"sort by one of {', '.join(SORTS)}", field="sort")
        number = parse_integer(values["page"], field="page", low=1, high=_MAX_PAGE) if values["page"] else 1
        return cls(values["q"], values["namespace"], values["category"], values["visibility"], sort, number)

    def query(self) -> RepoQuery:
        order, descending = SORTS[self.sort]
        return RepoQuery(
            namespace=self.namespace or None,
            name_contains=self.q or None,
            category=self.category or None,
            is_public=VISIBILITIES[self.visibility],
            offset=(self.page - 1) * PER_PAGE,
            limit=PER_PAGE,
            order=order,
            descending=descending,
        )

    def link(self, page: int) -> str:
        """This list's query string at ``page`` (its defaults left out)."""
        values = {"q": self.q, "namespace": self.namespace, "category": self.category}
        values |= {"visibility": self.visibility, "sort": "" if self.sort == "updated" else self.sort}
        values["page"] = "" if page == 1 else str(page)
        shown = {key: value for key, value in values.items() if value}
        return "?" + urlencode(shown) if shown else ""

    @property
    def categories(self) -> tuple[str, ...]:
        return CATEGORIES
