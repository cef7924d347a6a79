"""/docs and /redoc render in headless Chromium with every external host unreachable.

The browser resolves no name but 127.0.0.1 (``--host-resolver-rules``), so a page that needed a CDN
would stay blank; the rendered DOM must show the operations, and the HTML must load nothing remote.
"""

import re
import subprocess
from pathlib import Path

import httpx
import pytest

from repohub.config import Settings
from tests import needs
from tests.server import serve

# Resources the page loads (not links a reader may click, nor XML namespaces in inline SVG).
_LOADED = re.compile(r"<(?:script|link|img|iframe|source)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", re.I)


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory):
    needs.chromium()
    data = tmp_path_factory.mktemp("docs")
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{data / 'repohub.db'}",
        data_dir=data,
        secret_key="docs-test",
        _env_file=None,
    )
    with serve(settings) as server:
        yield server


def chromium(url: str, profile: Path, *extra: str) -> str:
    done = subprocess.run(
        [
            needs.chromium(),
            "--headless", *needs.CHROMIUM_FLAGS,
            f"--user-data-dir={profile}", "--virtual-time-budget=10000",
            *extra, url,
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def assert_loads_nothing_remote(html: str) -> None:
    loaded = _LOADED.findall(html)
    assert loaded, "the page loads no resources at all?"
    remote = [url for url in loaded if re.match(r"(?:https?:)?//", url) and "127.0.0.1" not in url]
    assert remote == [], remote


def test_swagger_ui_renders_the_operations_offline(docs_server, tmp_path):
    served = httpx.get(f"{docs_server.url}/docs").text
    assert_loads_nothing_remote(served)
    assert not re.search(r"https?://(?!127\.0\.0\.1)", served), "the page names an external host"
    dom = chromium(f"{docs_server.url}/docs", tmp_path / "profile", "--dump-dom")
    assert_loads_nothing_remote(dom)
    assert len(re.findall(r'class="opblock opblock-(?:get|post|put|delete)', dom)) >= 8
    paths = set(re.findall(r'data-path="([^"]+)"', dom))
    assert {"/v1/repositories/{namespace}", "/v1/repositories/{namespace}/{repo_name}",
            "/v1/generate-api-token"} <= paths  # fmt: skip


def test_redoc_renders_the_operation_titles_offline(docs_server, tmp_path):
    served = httpx.get(f"{docs_server.url}/redoc").text
    assert_loads_nothing_remote(served)
    assert not re.search(r"https?://(?!127\.0\.0\.1)", served), "the page names an external host"
    dom = chromium(f"{docs_server.url}/redoc", tmp_path / "profile", "--dump-dom")
    assert_loads_nothing_remote(dom)
    for title in ("Create Repository", "List Repositories", "Get Repository", "Generate Api Token"):
        assert re.search(rf">\s*{title}\s*<", dom), f"{title!r} not rendered"
    assert "/v1/repositories/{namespace}" in dom


def test_swagger_ui_screenshot_is_not_blank(docs_server, tmp_path):
    shot = tmp_path / "docs.png"
    chromium(
        f"{docs_server.url}/docs", tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,900"
    )
    # A blank white page compresses to a few KB; the rendered operations list is far larger.
    assert shot.stat().st_size > 30_000
