"""SWR's ``filter`` mini-language and the paging/sort pairs, parsed into the domain's query objects."""

import pytest

from repohub.api.swr import filters
from repohub.domain.errors import InvalidInput
from repohub.domain.queries import RepoOrder, RepoQuery, TagOrder, TagQuery


def repo(params=None, filter_text=None):
    return filters.repo_query(filters.merged(params or {}, filter_text, filters.REPO_KEYS))


def tag(params=None, filter_text=None):
    return filters.tag_query(filters.merged(params or {}, filter_text, filters.TAG_KEYS))


def test_every_repository_key():
    query, page = repo(
        filter_text="namespace::team|name::Web|category::linux|limit::10|offset::20"
        "|order_column::tag_count|order_type::desc"
    )
    assert query == RepoQuery(
        namespace="team",
        name_contains="Web",
        category="linux",
        offset=20,
        limit=10,
        order=RepoOrder.TAG_COUNT,
        descending=True,
    )
    assert page == filters.Paging(offset=20, limit=10, explicit=True)


def test_defaults_without_anything():
    query, page = repo()
    assert (query.offset, query.limit, query.order, query.descending) == (0, 100, RepoOrder.NAME, False)
    assert page.explicit is False


@pytest.mark.parametrize(
    ("column", "order"),
    [
        ("updated_at", RepoOrder.UPDATED_AT),
        ("updated_time", RepoOrder.UPDATED_AT),
        ("name", RepoOrder.NAME),
        ("tag_count", RepoOrder.TAG_COUNT),
    ],
)
def test_order_columns_in_both_places(column, order):
    by_param, _ = repo({"order_column": column, "order_type": "asc"})
    by_filter, _ = repo(filter_text=f"order_column::{column}|order_type::asc")
    assert by_param.order == by_filter.order == order


def test_filter_wins_over_the_separate_parameter_of_the_same_key():
    query, page = repo(
        {"namespace": "other", "name": "kept", "limit": "5", "offset": "0"}, "namespace::team|limit::7"
    )
    assert (query.namespace, query.name_contains, query.limit) == ("team", "kept", 7)
    assert page.explicit


def test_blank_separate_parameters_count_as_absent():
    query, page = repo({"namespace": "", "limit": "", "offset": ""})
    assert query.namespace is None
    assert not page.explicit


def test_tag_keys():
    query, page = tag(filter_text="offset::2|limit::3|order_column::updated_at|order_type::asc|tag::v1")
    assert query == TagQuery(name="v1", offset=2, limit=3, order=TagOrder.UPDATED_AT, descending=False)
    assert page.explicit
    default, _ = tag()
    assert (default.order, default.descending, default.limit) == (TagOrder.UPDATED_AT, True, 100)


def test_namespace_keys():
    assert filters.parse_filter("namespace::team|mode::visible", filters.NAMESPACE_KEYS) == {
        "namespace": "team",
        "mode": "visible",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "filter is empty"),
        ("   ", "filter is empty"),
        ("bogus::1", "unknown filter key 'bogus'"),
        ("Name::x", "unknown filter key 'Name'"),
        ("tag::v1", "unknown filter key 'tag'"),
        ("name", "must have the form key::value"),
        ("name:x", "must have the form key::value"),
        ("name::x|", "must have the form key::value"),
        ("|name::x", "must have the form key::value"),
        ("name::", "'name' has an empty value"),
        ("namespace::|name::x", "'namespace' has an empty value"),
        ("name::a::b", "may not contain '::'"),
        ("name::a::", "may not contain '::'"),
        ("name::a|name::b", "'name' is given more than once"),
        ("limit::5|offset::0|limit::5", "'limit' is given more than once"),
    ],
)
def test_bad_filters(text, message):
    with pytest.raises(InvalidInput, match=message):
        repo(filter_text=text)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "10"}, "limit needs offset"),
        ({"offset": "10"}, "offset needs limit"),
        ({"order_column": "name"}, "order_column needs order_type"),
        ({"order_type": "asc"}, "order_type needs order_column"),
        ({"limit": "0", "offset": "0"}, "limit must be an integer from 1 to 1000"),
        ({"limit": "1001", "offset": "0"}, "limit must be an integer from 1 to 1000"),
        ({"limit": "ten", "offset": "0"}, "limit must be an integer"),
        ({"limit": "10", "offset": "-1"}, "offset must be an integer from 0"),
        ({"order_column": "size", "order_type": "asc"}, "order_column must be one of"),
        ({"order_column": "name", "order_type": "up"}, "order_type must be asc or desc"),
        ({"category": "games"}, "category must be one of"),
    ],
)
def test_bad_pairs_and_values(params, message):
    with pytest.raises(InvalidInput, match=message):
        repo(params)


def test_pairs_are_checked_inside_the_filter_too():
    with pytest.raises(InvalidInput, match="limit needs offset"):
        repo(filter_text="limit::10")
    with pytest.raises(InvalidInput, match="order_type needs order_column"):
        tag(filter_text="order_type::desc")


def test_content_range_is_offset_count_total():
    assert filters.content_range(filters.Paging(offset=20, limit=10, explicit=True), 3, 23) == "20-3/23"
