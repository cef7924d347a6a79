"""The keyset statements' parameters: every filter shape and visibility kind numbers them as
``KeysetStore`` passes them (filters, visibility, marker, row count), each used."""

from __future__ import annotations

import itertools
import re

import pytest

from repohub.store import pg_pages
from repohub.store.keyset import repository_walk_sql, tag_walk_sql

KINDS = (pg_pages.EVERYTHING, pg_pages.PUBLIC, pg_pages.MEMBER, pg_pages.ROBOT)


def _numbers(sql: str) -> set[int]:
    return {int(number) for number in re.findall(r"\$(\d+)", sql)}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", list(itertools.product((False, True), repeat=4)))
def test_every_repository_walk_numbers_its_parameters_in_the_stores_order(
    shape: tuple[bool, bool, bool, bool], kind: str
) -> None:
    sql = repository_walk_sql(*shape, kind)
    count = sum(shape) + pg_pages.VISIBILITY_PARAMS[kind] + 2
    assert _numbers(sql) == set(range(1, count + 1)), sql
    assert sql.endswith(f" ORDER BY r.id LIMIT ${count}")
    assert f"r.id > ${count - 1}" in sql


def test_a_tag_walk_takes_the_repository_the_name_the_marker_and_the_count() -> None:
    assert _numbers(tag_walk_sql(False)) == {1, 2, 3}
    assert _numbers(tag_walk_sql(True)) == {1, 2, 3, 4}
    assert tag_walk_sql(True).endswith("t.id > $3 ORDER BY t.id LIMIT $4")
