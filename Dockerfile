# syntax=docker/dockerfile:1
# The Ascent service as a container: `ascent serve` on $PORT (default 8000), as uid 1000.
#
#   docker build -t ascent .
#   docker run -p 8000:8000 -e ASCENT_API_KEYS=change-me:acme ascent
#
# Configured by the environment alone, so one image runs on every platform:
#   ASCENT_APP           what to serve, MODULE:APP (default: the bundled support demo)
#   ASCENT_API_KEYS      KEY:TENANT[,KEY:TENANT...]; without it the service refuses to
#                        listen beyond loopback, so the container will not start
#   ASCENT_DATABASE_URL  one PostgreSQL for every replica (default: SQLite in /app/.ascent)
#   PORT                 the port to listen on (Hugging Face Spaces sets 7860)
# See docs/deploy.md for each platform, deploy/ for compose.
#
# Both base images are build arguments (name and tag), so the image builds where no registry
# is reachable (deploy/check-image.sh makes local ones): PYTHON_IMAGE is any Debian bookworm
# image with Python 3.11 as `python3` (the same one serves both stages, so the virtual
# environment moves as is); UV_IMAGE any image with the uv binary at /uv.
ARG PYTHON_IMAGE=python
ARG PYTHON_TAG=3.11-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv
ARG UV_VERSION=0.13.9

FROM ${UV_IMAGE}:${UV_VERSION} AS uv

# ---- build: dependencies first (cached while uv.lock is unchanged), then the project
FROM ${PYTHON_IMAGE}:${PYTHON_TAG} AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=python3 \
    UV_PROJECT_ENVIRONMENT=/opt/ascent
WORKDIR /src
# An optional build secret `ca` (a PEM bundle) is trusted for downloads when a proxy that
# inspects TLS stands between the build and PyPI. A secret is never stored in a layer, so
# no image, this stage included, keeps it.
# Mount targets are absolute: buildah 1.28 refuses relative ones.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=ca \
    --mount=type=bind,source=uv.lock,target=/src/uv.lock \
    --mount=type=bind,source=pyproject.toml,target=/src/pyproject.toml \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi \
    && uv sync --frozen --no-dev --no-install-project \
        --extra service --extra postgres --extra redis
COPY pyproject.toml uv.lock README.md /src/
COPY src /src/src
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi \
    && uv sync --frozen --no-dev --no-editable \
        --extra service --extra postgres --extra redis

# ---- run: the virtual environment only (owned by root, read-only to the service)
FROM ${PYTHON_IMAGE}:${PYTHON_TAG}
# uid 1000 is what Hugging Face Spaces runs; group 0 owns /app so that platforms which
# pick an arbitrary uid in group 0 (OpenShift) can write there too.
RUN useradd --uid 1000 --gid 0 --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin ascent \
    && install -d -o 1000 -g 0 -m 0775 /app
COPY --from=build /opt/ascent /opt/ascent
ENV PATH="/opt/ascent/bin:$PATH" \
    HOME=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ASCENT_APP=ascent.demo:create_team \
    PORT=8000
WORKDIR /app
USER 1000:0
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=2)"]
# `ascent serve` reads ASCENT_APP and PORT itself: no shell stands between it and SIGTERM.
CMD ["ascent", "serve", "--host", "0.0.0.0"]
