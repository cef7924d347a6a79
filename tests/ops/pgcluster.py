"""Throwaway PostgreSQL clusters for the fault and replica tests: ``bench.pgcluster``'s, which fail
the test in CI when PostgreSQL's binaries are missing and skip it elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import NoReturn, TypeVar

from bench import pgcluster
from bench.pgcluster import Cluster

from tests.needs import missing

__all__ = ["Cluster", "streaming_pair", "throwaway_cluster"]

T = TypeVar("T")


def _missing(error: pgcluster.NoBinaries) -> NoReturn:
    missing(str(error))


def _enter(stack: ExitStack, context: AbstractContextManager[T]) -> T:
    try:
        return stack.enter_context(context)
    except pgcluster.NoBinaries as error:
        _missing(error)


@contextmanager
def throwaway_cluster(*, replicable: bool = False) -> Iterator[Cluster]:
    with ExitStack() as stack:
        yield _enter(stack, pgcluster.throwaway_cluster(replicable=replicable))


@contextmanager
def streaming_pair() -> Iterator[tuple[Cluster, Cluster]]:
    """A primary and a hot standby streaming from it."""
    with ExitStack() as stack:
        primary = _enter(stack, pgcluster.throwaway_cluster(replicable=True))
        yield primary, _enter(stack, pgcluster.standby_of(primary))
