# syntax=docker/dockerfile:1
# leadgate's production image: `docker build -t leadgate .` (see deploy/compose.yaml).
# Two stages: the builder has compilers and builds every wheel into a virtualenv; the final image
# copies only that virtualenv onto python:3.11-slim and runs as an unprivileged user.

FROM python:3.11-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libffi-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/leadgate
ENV PATH=/opt/leadgate/bin:$PATH
WORKDIR /src
# Dependencies first (a layer that changes only with pyproject.toml), then the code.
COPY pyproject.toml README.md ./
RUN mkdir -p src/leadgate && touch src/leadgate/__init__.py \
    && pip install --upgrade pip wheel \
    && pip install . \
    && pip uninstall -y leadgate
COPY src ./src
RUN pip install --no-deps . \
    && pip uninstall -y pip wheel setuptools \
    && find /opt/leadgate -name '__pycache__' -prune -exec rm -rf {} +

FROM python:3.11-slim-bookworm
ENV PATH=/opt/leadgate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LEADGATE_ENVIRONMENT=production \
    LEADGATE_DATA_DIR=/var/lib/leadgate \
    LISTEN_HOST=0.0.0.0 \
    PORT=8000 \
    WEB_CONCURRENCY=2
RUN groupadd --system --gid 10001 leadgate \
    && useradd --system --uid 10001 --gid leadgate --home-dir /var/lib/leadgate \
       --shell /usr/sbin/nologin leadgate \
    && install -d -o leadgate -g leadgate -m 0750 /var/lib/leadgate
COPY --from=builder /opt/leadgate /opt/leadgate
COPY --chmod=0755 deploy/entrypoint.sh /usr/local/bin/leadgate-entrypoint
USER leadgate:leadgate
WORKDIR /var/lib/leadgate
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz\", timeout=2)"]
ENTRYPOINT ["leadgate-entrypoint"]
# `serve` runs: leadgate serve --host $LISTEN_HOST --port $PORT --workers $WEB_CONCURRENCY
# Other services: `worker`, `migrate` (leadgate db upgrade), or any command.
CMD ["serve"]
