"""SWR's query parameters for lists: the ``filter`` mini-language and the paging/sort pairs.

``filter`` is ``key::value|key::value...``. A key given in ``filter`` overrides the separate query
parameter of the same name. ``offset``/``limit`` and ``order_column``/``order_type`` only come in pairs.
Everything here is translation: the result is the domain's query object, and every mistake is an
InvalidInput whose message names the offending part.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from repohub.defaults import SWR_MAX_OFFSET
from repohub.domain.categories import check_category
from repohub.domain.errors import InvalidInput
from repohub.domain.numbers import parse_integer
from repohub.domain.queries import RepoOrder, RepoQuery, TagOrder, TagQuery

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 10_000_000
REPO_KEYS = ("namespace", "name", "category", "limit", "offset", "order_column", "order_type")
TAG_KEYS = ("tag", "limit", "offset", "order_column", "order_type")
NAMESPACE_KEYS = ("namespace", "mode")
# SWR documents updated_at for the plain parameter and name/updated_time/tag_count inside filter;
# both spellings are accepted in both places.
REPO_ORDER_COLUMNS = {
    "updated_at": RepoOrder.UPDATED_AT,
    "updated_time": RepoOrder.UPDATED_AT,
    "created_at": RepoOrder.CREATED_AT,
    "name": RepoOrder.NAME,
    "tag_count": RepoOrder.TAG_COUNT,
}
TAG_ORDER_COLUMNS = {
    "updated_at": TagOrder.UPDATED_AT,
    "updated_time": TagOrder.UPDATED_AT,
    "created_at": TagOrder.CREATED_AT,
    "tag": TagOrder.NAME,
    "name": TagOrder.NAME,
}
ORDER_TYPES = {"asc": False, "desc": True}


def parse_filter(text: str, allowed: Collection[str]) -> dict[str, str]:
    """Split ``key::value|key::value`` into a dict, rejecting anything ambiguous."""
    if not text.strip():
        raise InvalidInput("filter is empty: give key::value pairs separated by '|'", field="filter")
    pairs: dict[str, str] = {}
    for part in text.split("|"):
        key, sep, value = part.partition("::")
        if not sep:
            raise InvalidInput(f"filter part {part!r} must have the form key::value", field="filter")
        if key not in allowed:
            raise InvalidInput(
                f"unknown filter key {key!r}; allowed keys: {', '.join(allowed)}", field="filter"
            )
        if "::" in value:
            raise InvalidInput(f"filter value of {key!r} may not contain '::'", field="filter")
        if not value:
            raise InvalidInput(f"filter key {key!r} has an empty value", field="filter")
        if key in pairs:
            raise InvalidInput(f"filter key {key!r} is given more than once", field="filter")
        pairs[key] = value
    return pairs


def merged(
    params: Mapping[str, str | None], filter_text: str | None, allowed: Collection[str]
) -> dict[str, str]:
    """Separate parameters overlaid by the filter's keys (the filter wins); blank parameters are unset."""
    values = {key: value for key, value in params.items() if value}
    if filter_text is not None:
        values.update(parse_filter(filter_text, allowed))
    return values


@dataclass(frozen=True, slots=True)
class Paging:
    offset: int
    limit: int
    explicit: bool  # offset and limit were given: the answer carries Content-Range


def _integer(values: Mapping[str, str], key: str, low: int, high: int) -> int:
    return parse_integer(values[key], field=key, low=low, high=high)


def _both_or_neither(values: Mapping[str, str], first: str, second: str) -> bool:
    if (first in values) != (second in values):
        given, missing = (first, second) if first in values else (second, first)
        raise InvalidInput(f"{given} needs {missing}: they must be used together", field=missing)
    return first in values


def paging(values: Mapping[str, str]) -> Paging:
    if _both_or_neither(values, "offset", "limit"):
        return Paging(
            offset=_integer(values, "offset", 0, MAX_OFFSET),
            limit=_integer(values, "limit", 1, MAX_LIMIT),
            explicit=True,
        )
    return Paging(offset=0, limit=DEFAULT_LIMIT, explicit=False)


def within_offset_bound(page: Paging, v3_call: str) -> Paging:
    """``page`` if its offset is at most ``SWR_MAX_OFFSET``; deeper pages are v3's (``v3_call``)."""
    if page.offset > SWR_MAX_OFFSET:
        raise InvalidInput(
            f"offset {page.offset} is past {SWR_MAX_OFFSET}, the deepest offset page; to read further,"
            f" walk {v3_call} with marker: each page's nextMarker is the next page's marker",
            field="offset",
        )
    return page


def ordering(values: Mapping[str, str], columns: Mapping[str, str]) -> tuple[str, bool] | None:
    """The chosen sort column's domain value and whether it is descending, or None if not given."""
    if not _both_or_neither(values, "order_column", "order_type"):
        return None
    column = values["order_column"]
    if column not in columns:
        raise InvalidInput(
            f"order_column must be one of {', '.join(columns)}, not {column!r}", field="order_column"
        )
    kind = values["order_type"]
    if kind not in ORDER_TYPES:
        raise InvalidInput(f"order_type must be asc or desc, not {kind!r}", field="order_type")
    return columns[column], ORDER_TYPES[kind]


def repo_query(values: Mapping[str, str]) -> tuple[RepoQuery, Paging]:
    page = paging(values)
    category = values.get("category")
    if category is not None:
        check_category(category)  # the domain's rule, here to keep the order of the parser's checks
    order = ordering(values, REPO_ORDER_COLUMNS)
    column, descending = order if order else (RepoOrder.NAME, False)
    query = RepoQuery(
        namespace=values.get("namespace") or None,
        name_contains=values.get("name") or None,
        category=category or None,
        offset=page.offset,
        limit=page.limit,
        order=RepoOrder(column),
        descending=descending,
    )
    return query, page


def tag_query(values: Mapping[str, str]) -> tuple[TagQuery, Paging]:
    page = paging(values)
    order = ordering(values, TAG_ORDER_COLUMNS)
    column, descending = order if order else (TagOrder.UPDATED_AT, True)
    query = TagQuery(
        name=values.get("tag") or None,
        offset=page.offset,
        limit=page.limit,
        order=TagOrder(column),
        descending=descending,
    )
    return query, page


def content_range(page: Paging, count: int, total: int) -> str:
    """SWR's ``Content-Range``: ``offset-count/total`` (count on this page, not the last index)."""
    return f"{page.offset}-{count}/{total}"
