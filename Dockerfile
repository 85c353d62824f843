# The Aurigraph node image: `aurigraph` (CLI and node) with Ray, on python:3.11-slim.
#
#   docker build -t aurigraph:0.1.0 .
#   docker run -d --name aurigraph --shm-size=2g -p 8000:8000 -p 9000:9000 \
#       -e AURIGRAPH_NODE_PASSPHRASE=… -v aurigraph-data:/data aurigraph:0.1.0
#
# The default command runs a whole node in the container (`aurigraph up` on a local Ray instance,
# REST on :8000, gRPC on :9000, data in the /data volume). Pass other `aurigraph` arguments after
# the image name, e.g. `… aurigraph:0.1.0 up --data-dir /data --http-host 0.0.0.0 --validators 2`.
# Notes for running it:
# - `--validators` defaults to os.cpu_count(), which in a container is the HOST's CPU count: give a
#   number that fits the container's CPU limit (each validator is a process).
# - Ray keeps its object store in /dev/shm: Docker's default 64 MB is too small (--shm-size).
# - Without AURIGRAPH_NODE_PASSPHRASE the node makes a dev passphrase file in /data/keys.
# - The HEALTHCHECK asks http://127.0.0.1:8000/v11/health (open without an API key); with
#   --http-port or TLS (--tls-cert/--tls-key) use `docker run --health-cmd …` to match.
# - The same image runs in a Ray cluster (deploy/kuberay/raycluster.yaml): there it is started with
#   `ray start --head --port=6380` and `aurigraph up --address 127.0.0.1:6380`.
#
# The `ml` extra (tensorflow-cpu, some 600 MB installed) is left out by default: the node, and the
# optimizer serving its models (`aurigraph up --optimizer`, NumPy only), run without it. Only
# retraining models on the cluster (`aurigraph models retrain`) needs it, on the Ray nodes that run
# the training task: docker build --build-arg EXTRAS=ml .   (EXTRAS: a comma-separated list)

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: the pinned dependencies and the package, in a venv --------------------------------
FROM ${PYTHON_IMAGE} AS builder
ARG EXTRAS=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, in their own layer (rebuilt only when pyproject.toml or the lock change):
# pyproject's runtime dependencies (+ the EXTRAS' ones), each at its requirements.lock version.
# Every one of them ships manylinux wheels for x86_64, so no compiler is needed.
COPY pyproject.toml requirements.lock README.md ./
RUN python -c "import os, tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; extras = [e for e in os.environ.get('EXTRAS', '').split(',') if e]; print('\n'.join(p['dependencies'] + [d for e in extras for d in p['optional-dependencies'][e]]))" > /tmp/requirements.txt \
    && pip install -c requirements.lock -r /tmp/requirements.txt

# Then the code, installed as a regular (not editable) package: the venv is all the runtime needs.
COPY aurigraph/ aurigraph/
COPY actors/ actors/
COPY serve_apps/ serve_apps/
COPY models/ models/
RUN pip install --no-deps -c requirements.lock . \
    && pip check

# --- runtime --------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM to `aurigraph up` (which then stops the gateway and the node)
# and reaps the many processes Ray starts.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 aurigraph \
    && useradd --system --uid 10001 --gid aurigraph --home-dir /home/aurigraph --create-home \
       --shell /bin/bash aurigraph \
    && mkdir -p /data \
    && chown aurigraph:aurigraph /data
COPY --from=builder /opt/venv /opt/venv
# Also on the PATH of login shells (`bash -l` resets PATH from /etc/profile): KubeRay runs its
# `ray health-check` init container that way.
RUN ln -s /opt/venv/bin/aurigraph /opt/venv/bin/ray /opt/venv/bin/serve /usr/local/bin/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RAY_USAGE_STATS_ENABLED=0

USER aurigraph
WORKDIR /home/aurigraph
# Fails the build if crypto, codec or the ledger core do not work in this image.
RUN aurigraph selfcheck

VOLUME ["/data"]
# 8000 REST + WebSocket, 9000 gRPC (aurigraph up's defaults); 6380 Ray head (GCS) and 8265 Ray
# dashboard, used only when the container is the head of a Ray cluster (never 6379: Redis's port).
EXPOSE 8000 9000 6380 8265
HEALTHCHECK --interval=30s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/v11/health', timeout=4)"]
ENTRYPOINT ["tini", "--", "aurigraph"]
CMD ["up", "--data-dir", "/data", "--http-host", "0.0.0.0"]
