# syntax=docker/dockerfile:1
# The Ascent service as a container: `ascent serve` on port 8000, as a non-root user.
#
#   docker build -t ascent .
#   docker run -p 8000:8000 -e ASCENT_API_KEYS=change-me:acme ascent
#
# ASCENT_APP names what to serve (MODULE:APP; default: the bundled support demo);
# ASCENT_DATABASE_URL points every replica at one PostgreSQL (see deploy/).

# ---- build: dependencies first (cached while uv.lock is unchanged), then the project
# Build and run stages share one Python image, so the virtual environment moves as is.
FROM python:3.11-slim-bookworm AS build
COPY --from=ghcr.io/astral-sh/uv:0.13 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-project --extra service --extra postgres --extra redis
COPY pyproject.toml uv.lock README.md ./
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --extra service --extra postgres --extra redis

# ---- run: the virtual environment only, no uv, no build tools
FROM python:3.11-slim-bookworm
RUN groupadd --system ascent && useradd --system --gid ascent --home-dir /app ascent
WORKDIR /app
COPY --from=build --chown=ascent:ascent /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    ASCENT_APP=ascent.demo:create_team
USER ascent
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# Without ASCENT_API_KEYS the service refuses to listen beyond loopback.
CMD ["sh", "-c", "exec ascent serve \"$ASCENT_APP\" --host 0.0.0.0 --port 8000"]
