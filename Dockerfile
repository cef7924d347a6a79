# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home /app repohub
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY alembic.ini ./
COPY migrations ./migrations
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    REPOHUB_DATA_DIR=/app/data \
    REPOHUB_DATABASE_URL=sqlite+aiosqlite:////app/data/repohub.db \
    REPOHUB_PROXY_HEADERS=true \
    REPOHUB_FORWARDED_ALLOW_IPS=127.0.0.1
# X-Forwarded-* are believed from 127.0.0.1 only: set REPOHUB_FORWARDED_ALLOW_IPS to the reverse
# proxy's address or network (deploy/compose.yaml trusts nginx's fixed address), never to * where
# clients can reach the container directly (they could then claim any address, scheme and host).
RUN mkdir -p /app/data && chown repohub /app/data && chmod 0700 /app/data
# The SQLite database and the generated server key (secret.key) must outlive the container.
VOLUME ["/app/data"]
USER repohub
EXPOSE 8000
# Liveness only: /readyz (database and migrations) is for the load balancer, not for restarts.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
# SIGTERM (docker stop) drains in-flight requests before exiting; give it the 20 s it may take.
STOPSIGNAL SIGTERM
CMD ["repohub", "serve", "--host", "0.0.0.0", "--port", "8000"]
