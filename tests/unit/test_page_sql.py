"""The page SQL of pg_pages and the domain objects its rows become, held together."""

from __future__ import annotations

import re
from dataclasses import fields

from repohub.domain.entities import Creator, Namespace, Repository, RepositorySummary, Tag
from repohub.domain.queries import RepoOrder
from repohub.store import keyset, pg_pages, repositories
from repohub.store.sqlite_reader import sqlite_sql


def top_level(text: str, separator: str) -> list[str]:
    """``text`` split at each ``separator`` outside parentheses (a subquery's commas stay whole)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
        elif depth == 0 and text.startswith(separator, i):
            parts.append(text[start:i])
            start = i = i + len(separator)
            continue
        i += 1
    return [*parts, text[start:]]


def selected_names(sql: str) -> list[str]:
    columns = top_level(sql.split("SELECT ", 1)[1], " FROM repositories")[0]
    names = []
    for column in top_level(columns, ","):
        column = column.strip()
        names.append(column.split(" AS ")[-1] if " AS " in column else column.split(".")[-1])
    return names


def test_summary_columns_come_in_the_order_of_its_fields() -> None:
    # _summary_from_row builds a summary from the row's leading values by position.
    sql = pg_pages.page_sql(True, False, False, None, "member", RepoOrder.NAME, False, True, True)
    assert selected_names(sql) == [*RepositorySummary._fields[:-1], "total", "tag_names"]


def _by_position(entity: type, head: int, tail: int) -> list[str]:
    """The columns a row must have for ``entity`` built from it by position: its fields before the
    creator, those after it (up to ``tail``), then the creator's."""
    names = [field.name for field in fields(entity) if field.name != "tag_names"]
    assert names[head] == "creator" and len(names) == tail + 1
    creator = [f"creator_{field.name}" for field in fields(Creator)]
    return [*names[:head], *names[head + 1 :], *creator]


def test_repository_and_tag_columns_come_in_the_order_their_rows_are_built_in() -> None:
    # _repository_from_row and _tag_from_row build the entities from the rows by position.
    repository = _by_position(Repository, repositories._REPOSITORY_HEAD, repositories._REPOSITORY_TAIL)
    page = pg_pages.page_sql(True, False, False, None, "member", RepoOrder.NAME, False, False)
    assert selected_names(page) == [*repository, "total"]
    for one in (pg_pages.REPOSITORY_BY_ID_SQL, pg_pages.REPOSITORY_BY_NAME_SQL):
        assert selected_names(one) == repository
    assert selected_names(pg_pages.REPOSITORY_BY_PATH_SQL) == repository
    # get_with_namespace: then the namespace's fields after its id and name (the repository's 2nd, 3rd).
    rest = [f"namespace_{field.name}" for field in fields(Namespace)][2:]
    assert selected_names(pg_pages.REPOSITORY_AND_NAMESPACE_BY_ID_SQL) == [*repository, *rest]
    tag = _by_position(Tag, repositories._TAG_HEAD, repositories._TAG_TAIL)
    tag_columns = top_level(pg_pages.TAG_BY_NAME_SQL.split("SELECT ", 1)[1], " FROM tags")[0]
    assert [column.strip().split(" AS ")[-1].split(".")[-1] for column in top_level(tag_columns, ",")] == tag
    walked = [column.strip().split(" AS ")[-1].split(".")[-1] for column in keyset._TAG_COLUMNS.split(",")]
    assert walked == tag


def test_summary_pages_skip_the_creator_join_and_full_pages_keep_it() -> None:
    summary = pg_pages.page_sql(False, True, False, None, "public", RepoOrder.UPDATED_AT, True, False, True)
    full = pg_pages.page_sql(False, True, False, None, "public", RepoOrder.UPDATED_AT, True, False, False)
    assert "users c" not in summary and "full_description" not in summary
    assert "LEFT JOIN users c" in full and "creator_username" in full


def test_parameters_are_numbered_for_sqlite_too() -> None:
    sql = pg_pages.page_sql(True, True, True, None, "member", RepoOrder.NAME, False, False, True)
    # namespace, name, category, member (used by each rule reaching it), the shares' time, limit, offset
    numbers = {"1", "2", "3", "4", "5", "6", "7"}
    assert set(re.findall(r"\$(\d+)", sql)) == numbers
    assert "$" not in sqlite_sql(sql)
    assert set(re.findall(r"\?(\d+)", sqlite_sql(sql))) == numbers
    assert sql.endswith("LIMIT $6 OFFSET $7")


def test_a_name_filter_across_namespaces_probes_memberships_without_a_join() -> None:
    # A scalar subquery is never hashed: a generic plan hashed every membership of the caller.
    fuzzy = pg_pages.page_sql(False, True, False, None, "member", RepoOrder.NAME, False, True, True)
    assert "JOIN memberships m" not in fuzzy and "(SELECT true FROM memberships m" in fuzzy
    namespace_page = pg_pages.page_sql(True, True, False, None, "member", RepoOrder.NAME, False, True, True)
    assert "LEFT JOIN memberships m" in namespace_page


def test_the_public_filter_is_a_literal_and_keeps_the_parameters_numbering() -> None:
    sql = pg_pages.page_sql(False, True, True, False, "member", RepoOrder.DOWNLOADS, True, False, True)
    assert "r.is_public IS FALSE AND (r.is_public IS TRUE OR" in sql  # within the rule, not instead
    # name, category, member, the shares' time, limit, offset: the filter takes no parameter
    assert set(re.findall(r"\$(\d+)", sql)) == {"1", "2", "3", "4", "5", "6"}
    assert sql.endswith("ORDER BY r.download_count DESC, r.id DESC LIMIT $5 OFFSET $6")
    unfiltered = pg_pages.page_sql(False, True, True, None, "member", RepoOrder.DOWNLOADS, True, False, True)
    assert "IS FALSE" not in unfiltered


def test_sqlite_pages_by_pulls_keep_their_order_around_the_tag_names() -> None:
    sql = pg_pages.sqlite_page_sql(True, False, False, True, "public", RepoOrder.DOWNLOADS, False, True)
    assert sql.endswith("ORDER BY p.download_count ASC, p.id ASC")


def test_totals_of_one_part_are_kept_and_take_only_their_own_parameters() -> None:
    for visible in ("everything", "public", "member", "robot"):
        for public in (True, False):
            page = pg_pages.page_sql(False, False, False, public, visible, RepoOrder.NAME, False, False, True)
            assert "OVER ()" not in page, (visible, public)  # the kept counts, no window count
            namespace_page = pg_pages.page_sql(
                True, False, False, public, visible, RepoOrder.NAME, False, False
            )
            assert "OVER ()" not in namespace_page, (visible, public)
    # The public part alone is the same sum for every caller: none of the caller's parameters.
    for visible in ("member", "robot"):
        assert pg_pages.parameter_count(pg_pages.kept_total_sql(False, visible, True)) == 0
        assert pg_pages.parameter_count(pg_pages.kept_total_sql(True, visible, True)) == 1  # the category
        assert pg_pages.parameter_count(pg_pages.namespace_total_sql(visible, True)) == 1  # the namespace
        private = pg_pages.kept_total_sql(True, visible, False)
        assert pg_pages.parameter_count(private) == 3 and "public_repositories" not in private
    # Anonymous callers see no private repository: nothing to count.
    assert pg_pages.kept_total_sql(False, "public", False) == "SELECT CAST(0 AS BIGINT)"
    assert pg_pages.kept_total_sql(False, "public", None) == pg_pages.kept_total_sql(False, "public", True)


def test_private_pages_under_the_public_rule_alone_are_false_for_the_planner() -> None:
    # Anonymous callers see public rows alone: PostgreSQL walked a whole index to find none.
    anonymous = pg_pages.page_sql(
        False, False, False, False, "public", RepoOrder.DOWNLOADS, True, False, True
    )
    assert "WHERE FALSE AND" in anonymous and "IS FALSE" not in anonymous
    member = pg_pages.page_sql(False, False, False, False, "member", RepoOrder.DOWNLOADS, True, False, True)
    assert "WHERE r.is_public IS FALSE AND" in member and "WHERE FALSE" not in member


def test_every_repository_order_has_a_column_in_every_statement_builder() -> None:
    # A RepoOrder one builder lacks is a KeyError, a 500, the day a dialect offers it there.
    from repohub.store import grants

    assert set(pg_pages._ORDER_COLUMNS) == set(grants._ORDER_COLUMNS) == set(RepoOrder)
