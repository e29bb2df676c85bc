# dylive as a container image: `dylive serve` on port 8000, data (the SQLite file) in /data.
#
#   docker build -t dylive:latest .
#   docker run -p 8000:8000 -v dylive-data:/data dylive:latest              # dylive serve
#   docker run -p 8000:8000 -p 9000:9000 dylive:latest demo --host 0.0.0.0  # the demo
#   docker compose up                                                       # compose.yaml: a fleet
#
# BASE is any Debian-like image with python3 (>= 3.11) and its venv module; scripts/image-test
# builds on a local Debian bookworm made with mmdebstrap (no registry needed).
ARG BASE=python:3.12-slim-bookworm

# Stage 1: a virtualenv with dylive and every optional part (PostgreSQL, NATS, Parquet).
FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/dylive && /opt/dylive/bin/python -m pip install --quiet --upgrade pip
COPY pyproject.toml README.md LICENSE /src/
COPY src /src/src
RUN /opt/dylive/bin/python -m pip install --quiet "/src[all]" \
    && /opt/dylive/bin/python -m compileall -q /opt/dylive/lib

# Stage 2: the runtime: the base image, the virtualenv, an unprivileged user.
FROM ${BASE}
RUN useradd --uid 10001 --user-group --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin dylive \
    && mkdir -p /data && chown dylive:dylive /data
COPY --from=build /opt/dylive /opt/dylive
ENV PATH=/opt/dylive/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DYLIVE_DB=/data/dylive.sqlite3 \
    DYLIVE_HOST=0.0.0.0 \
    DYLIVE_PORT=8000
WORKDIR /data
VOLUME ["/data"]
USER dylive
EXPOSE 8000
# Liveness from /healthz (HTTP 200 while the service runs, "ok" or "degraded"); on the port of
# DYLIVE_PORT: set that variable rather than --port when the service should listen elsewhere.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('DYLIVE_PORT', '8000'), timeout=4)"]
# SIGTERM hands a fleet node's rooms off before it exits: give it time (docker stop -t 30).
STOPSIGNAL SIGTERM
ENTRYPOINT ["dylive"]
CMD ["serve"]
