"""Issue 19's targets, read from the bench's results: each figure beside its target, met or missed.

Three tables in the report ``bench/report.py`` writes:
- growth: a list page's median (wrk's p50) at 1M repositories over its median at 10k (≤ 1.5×);
- ratios: pages to the floor's, the registry token to ``/healthz`` (the ratios ``__main__`` computes
  within one invocation, on one data size);
- unfiltered first pages over the namespace page's median at 20 namespaces × 1,000 repositories, at
  32 connections (≤ 3×);
- issue 20's web pages: each page's throughput over its API call's (``scenarios.UI_PAIRS``) in the same
  invocation (≥ 0.8×), and its body under 100 KB.

Medians of different sizes may come from different invocations (results accumulate across runs); the
growth table says when they do, as the machine's speed drifts between runs (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bench.dataset import NAMED_SIZES
from bench.report import Result
from bench.scenarios import UI_PAIRS, UNFILTERED_PAGES, is_list_page

__all__ = ["Check", "floor_ratios", "growth", "markdown", "unfiltered", "web_pages"]

SMALL, MIDDLE, LARGE = NAMED_SIZES["10k"], NAMED_SIZES["100k"], NAMED_SIZES["1m"]
COMPARISON = NAMED_SIZES["20x1000"]
GROWTH_LIMIT = 1.5
UNFILTERED_LIMIT = 3.0
COMPARISON_CONNECTIONS = 32
NAMESPACE_PAGE = "swr_list"
WEB_LEAST = 0.8  # a web page's requests/s over its API call's: "served in the time of" it, with margin
WEB_MAX_BYTES = 100 * 1024  # "each page under 100 KB"
# (server, scenario) → the least ratio, and the only size it holds at (None: every size).
RATIO_TARGETS: dict[tuple[str, str], tuple[float, str | None]] = {
    ("postgresql", "swr_list"): (0.8, None),
    ("postgresql", "v1_list"): (0.6, None),
    ("postgresql", "v1_detail"): (0.6, None),
    ("postgresql", "abeja_list"): (0.6, None),
    ("postgresql", "abeja_tags"): (0.6, None),
    ("postgresql", "registry_token"): (0.6, None),
    ("sqlite", "swr_list"): (0.5, SMALL.label),
}


@dataclass(frozen=True)
class Check:
    cells: tuple[str, ...]  # what is compared and the figures, one table's columns before the target
    target: str
    verdict: str  # "met", "missed", or why it cannot be judged
    note: str = ""


Key = tuple[str, str, int, str]  # size label, server, workers, scenario


def _index(results: Iterable[Result]) -> dict[Key, Result]:
    return {row.key: row for row in results if row.status == "ok" and row.backend != "floor"}


def _verdict(met: bool) -> str:
    return "met" if met else "missed"


def _ms(row: Result | None) -> str:
    return f"{row.p50_ms:.1f}" if row is not None else "—"


def _servers(rows: dict[Key, Result]) -> list[tuple[str, int]]:
    return sorted({(server, workers) for _size, server, workers, _key in rows})


def growth(results: Sequence[Result]) -> list[Check]:
    """Each list page's median at 1M over its median at 10k, per server and worker count."""
    rows = _index(results)
    checks = []
    for server, workers in _servers(rows):
        keys = sorted({key for _s, b, w, key in rows if (b, w) == (server, workers) and is_list_page(key)})
        for key in keys:
            small, middle, large = (
                rows.get((size.label, server, workers, key)) for size in (SMALL, MIDDLE, LARGE)
            )
            if small is None and middle is None and large is None:
                continue  # a size of no growth target (the smoke's, 20 x 1,000)
            cells = (server, str(workers), key, _ms(small), _ms(middle), _ms(large))
            if small is None or large is None:
                checks.append(Check((*cells, "—"), f"≤ {GROWTH_LIMIT}×", "not measured at both sizes"))
                continue
            ratio = large.p50_ms / small.p50_ms
            note = "" if small.run == large.run else "sizes measured in different invocations"
            checks.append(
                Check((*cells, f"{ratio:.2f}×"), f"≤ {GROWTH_LIMIT}×", _verdict(ratio <= GROWTH_LIMIT), note)
            )
    return checks


def floor_ratios(results: Sequence[Result]) -> list[Check]:
    """The pages' ratios to the floor and the token's to ``/healthz``, at each size measured."""
    checks = []
    for row in sorted(_index(results).values(), key=lambda r: (r.repositories, r.backend, r.workers)):
        target = RATIO_TARGETS.get((row.backend, row.scenario))
        if target is None or target[1] not in (None, row.size) or row.ratio is None:
            continue
        least = target[0]
        cells = (
            f"{row.repositories:,}",
            row.backend,
            str(row.workers),
            row.scenario,
            f"{row.ratio:.3f}× {row.ratio_to}",
        )
        checks.append(Check(cells, f"≥ {least}×", _verdict(row.ratio >= least)))
    return checks


def unfiltered(results: Sequence[Result]) -> list[Check]:
    """Unfiltered and sorted first pages over the namespace page, at 20 × 1,000 and 32 connections."""
    rows = _index(results)
    checks = []
    for server, workers in _servers(rows):
        base = rows.get((COMPARISON.label, server, workers, NAMESPACE_PAGE))
        for key in UNFILTERED_PAGES:
            row = rows.get((COMPARISON.label, server, workers, key))
            if row is None:
                continue
            cells = (server, str(workers), key, _ms(row), _ms(base))
            checks.append(_unfiltered_check(cells, row, base))
    return checks


def _unfiltered_check(cells: tuple[str, ...], row: Result, base: Result | None) -> Check:
    target = f"≤ {UNFILTERED_LIMIT}×"
    if base is None:
        return Check((*cells, "—"), target, f"no {NAMESPACE_PAGE} row at {COMPARISON.label}")
    ratio = row.p50_ms / base.p50_ms
    if row.connections != COMPARISON_CONNECTIONS or base.connections != COMPARISON_CONNECTIONS:
        verdict = f"not judged: {row.connections or '?'} connections, the target's {COMPARISON_CONNECTIONS}"
        return Check((*cells, f"{ratio:.2f}×"), target, verdict)
    note = "" if row.run == base.run else "measured in different invocations"
    return Check((*cells, f"{ratio:.2f}×"), target, _verdict(ratio <= UNFILTERED_LIMIT), note)


def web_pages(results: Sequence[Result]) -> list[Check]:
    """Each web page beside its API call, same size, server and workers: requests/s and p50 ratios."""
    rows = _index(results)
    checks = []
    for (size, server, workers, key), row in sorted(rows.items(), key=lambda item: item[1].repositories):
        if key not in UI_PAIRS:
            continue
        twin = rows.get((size, server, workers, UI_PAIRS[key]))
        cells = (f"{row.repositories:,}", server, str(workers), key, UI_PAIRS[key])
        checks.append(_web_check(cells, row, twin))
    return checks


def _web_check(cells: tuple[str, ...], row: Result, twin: Result | None) -> Check:
    target = f"≥ {WEB_LEAST}× req/s, < {WEB_MAX_BYTES // 1024} KB"
    size = f"{row.bytes / 1024:.1f}" if row.bytes else "—"
    if twin is None:
        return Check((*cells, "—", "—", "—", size), target, f"no {cells[-1]} row")
    rate, p50 = row.rate / twin.rate, row.p50_ms / twin.p50_ms
    # Server CPU per request: steadier than requests/s when other work shares the machine.
    cpu = f"{row.cpu_us / twin.cpu_us:.2f}×" if row.cpu_us and twin.cpu_us else "—"
    figures = (*cells, f"{rate:.2f}×", f"{p50:.2f}×", cpu, size)
    if row.run != twin.run:
        return Check(figures, target, "not judged: measured in different invocations")
    small = 0 < row.bytes < WEB_MAX_BYTES
    note = "" if row.bytes else "size not recorded"
    return Check(figures, target, _verdict(rate >= WEB_LEAST and small), note)


def _table(headers: Sequence[str], checks: Sequence[Check]) -> list[str]:
    columns = [*headers, "target", "verdict", "note"]
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    lines += [
        "| " + " | ".join((*check.cells, check.target, check.verdict, check.note)) + " |" for check in checks
    ]
    return lines


def _sections(results: Sequence[Result]) -> list[tuple[str, tuple[str, ...], list[Check], str]]:
    """(heading, columns, rows, the run that would fill an empty table) of each table."""
    sizes = f"`--sizes 10k,1m` ({SMALL.label}, {LARGE.label})"
    comparison = f"`--sizes 20x1000 --connections {COMPARISON_CONNECTIONS}`"
    return [
        (
            f"Growth: median (p50) at {LARGE.repositories:,} ÷ median at {SMALL.repositories:,} repositories",
            ("server", "workers", "scenario", "p50 ms 10k", "p50 ms 100k", "p50 ms 1M", "1M ÷ 10k"),
            growth(results),
            sizes,
        ),
        (
            "Ratios to the floor's page (pages) and to `/healthz` (token), same invocation and size",
            ("repositories", "server", "workers", "scenario", "ratio"),
            floor_ratios(results),
            "a run with the floor",
        ),
        (
            f"Unfiltered first pages ÷ the namespace page, median, at {COMPARISON.label}"
            f" ({COMPARISON_CONNECTIONS} connections)",
            ("server", "workers", "scenario", "p50 ms", f"{NAMESPACE_PAGE} p50 ms", "ratio"),
            unfiltered(results),
            comparison,
        ),
        (
            "Web catalogue (issue 20): each page ÷ its API call, same invocation, size and server",
            (
                "repositories",
                "server",
                "workers",
                "page",
                "API call",
                "req/s ratio",
                "p50 ratio",
                "CPU/req ratio",
                "page KB",
            ),
            web_pages(results),
            "a run of the ui_ scenarios with their API calls",
        ),
    ]


def markdown(results: Sequence[Result]) -> str:
    """The three tables, each under its heading; a table with no rows says what it waits for."""
    parts: list[str] = ["### Targets (issue 19)", ""]
    for title, headers, checks, wanted in _sections(results):
        parts += [f"{title}:", ""]
        parts += _table(headers, checks) if checks else [f"(no rows yet: {wanted})"]
        parts.append("")
    return "\n".join(parts).rstrip("\n")
