"""The floor: the least Python that answers one SWR-style list page from Postgres.

Same rows and same JSON shape as GET /v2/manage/repos?namespace=NS&limit=L&offset=O,
with a Content-Range header, served by Starlette + asyncpg + orjson and nothing else.
A real service does more (auth, validation, three dialects); this measures what the
database and the HTTP stack cost on their own, so a service's figure can be quoted as
a ratio of it, measured side by side in one run.

  FLOOR_DSN=postgresql://user:pw@127.0.0.1/db uvicorn floor_app:app --port 8101

A copy of ``../shared/bench/floor_app.py`` (the reference), only typed and formatted for this
project's linters: the same SQL, the same statements per request, the same bytes answered
(README.md beside this file says how that was checked).
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DSN = os.environ.get("FLOOR_DSN", "postgresql://root:root@127.0.0.1/bench")

PAGE_SQL = """
SELECT r.name, r.category, r.description, r.size, r.is_public, r.num_images,
       r.num_download, r.created_at, r.updated_at, n.name AS namespace,
       ARRAY(SELECT t.name FROM floor_tags t WHERE t.repo_id = r.id ORDER BY t.name) AS tags,
       count(*) OVER () AS total
FROM floor_repos r JOIN floor_namespaces n ON n.id = r.namespace_id
WHERE n.name = $1
ORDER BY r.updated_at DESC, r.id
LIMIT $2 OFFSET $3
"""

pool: asyncpg.Pool | None = None


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(DSN, min_size=4, max_size=int(os.environ.get("FLOOR_POOL", "10")))
    yield
    await pool.close()


async def list_repos(request: Request) -> Response:
    q = request.query_params
    ns, limit, offset = q.get("namespace", ""), int(q.get("limit", "100")), int(q.get("offset", "0"))
    async with pool.acquire() as con:
        rows = await con.fetch(PAGE_SQL, ns, limit, offset)
    total = rows[0]["total"] if rows else 0
    body = [
        {
            "name": r["name"], "category": r["category"], "description": r["description"],
            "size": r["size"], "is_public": r["is_public"], "num_images": r["num_images"],
            "num_download": r["num_download"],
            "created_at": r["created_at"].isoformat(), "updated_at": r["updated_at"].isoformat(),
            "logo": "", "url": "", "path": f"registry.local/{r['namespace']}/{r['name']}",
            "internal_path": f"registry.local/{r['namespace']}/{r['name']}", "domain_name": "root",
            "namespace": r["namespace"], "tags": list(r["tags"]), "status": False, "total_range": total,
        }
        for r in rows
    ]  # fmt: skip
    return Response(
        orjson.dumps(body),
        media_type="application/json",
        headers={"Content-Range": f"{offset}-{len(rows)}/{total}"},
    )


app = Starlette(routes=[Route("/v2/manage/repos", list_repos)], lifespan=lifespan)
