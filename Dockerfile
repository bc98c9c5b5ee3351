# One image for the bot (`serve`), the LNN model service (`lnn serve`) and the migrations
# (`db upgrade`): the arguments after the image name are firebreak's command line.
#
#   docker build -t firebreak .
#   docker run -p 8080:8080 firebreak                       # the bot on SQLite
#   docker run -p 8090:8090 -e FIREBREAK_HEALTHCHECK_URL=http://127.0.0.1:8090/health \
#       firebreak lnn serve --host 0.0.0.0                  # the LNN model service
#
# BASE_IMAGE is any Debian-based image with python3 (3.11 or later) and its venv module: the
# official slim image by default (python in /usr/local/bin); tests/e2e/test_image.py builds on
# a debootstrap'd Debian (python in /usr/bin), so everything here says `python3 -m venv` and
# then uses the venv's own interpreter.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# Stage 1: wheels of firebreak and every dependency (a real wheel, not an editable install).
FROM ${BASE_IMAGE} AS wheels
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY actions ./actions
COPY db ./db
COPY lnn_service ./lnn_service
COPY httpguard ./httpguard
RUN python3 -m venv /opt/build \
    && /opt/build/bin/pip wheel --wheel-dir /wheels .

# Stage 2: the wheels installed, offline, into the venv the image runs. (A separate stage, so
# the wheels never become a layer of the final image.)
FROM ${BASE_IMAGE} AS venv
COPY --from=wheels /wheels /wheels
RUN python3 -m venv /opt/firebreak \
    && /opt/firebreak/bin/pip install --no-cache-dir --no-index --find-links /wheels firebreak

# Stage 3: the image. The venv's interpreter links to the base's python3, the same in every stage.
FROM ${BASE_IMAGE}
ENV PATH=/opt/firebreak/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FIREBREAK_DATABASE_URL=sqlite+aiosqlite:////var/lib/firebreak/firebreak.db \
    MPLCONFIGDIR=/tmp/matplotlib
COPY --from=venv /opt/firebreak /opt/firebreak
# The model artifacts are checked against their sha256 manifest by the service's own loader
# (the same check `lnn serve` makes at start-up): a corrupt or edited model fails the build.
# Loading leaves onnxruntime's telemetry id under $HOME/.cache, which the image does not need.
RUN HOME=/tmp/model-check /opt/firebreak/bin/python -c "from lnn_service.registry import Registry; \
from lnn_service.settings import DEFAULT_MODEL_DIR; \
registry = Registry(DEFAULT_MODEL_DIR); versions = registry.versions(); \
assert versions, f'no model versions in {DEFAULT_MODEL_DIR}'; \
[registry.load(v) for v in versions]; print('model artifacts verified:', *versions)" \
    && rm -rf /tmp/model-check
# Metric graphs (matplotlib) keep their font cache in MPLCONFIGDIR, built by the first graph:
# /tmp is writable under the manifests' read-only root filesystem (an emptyDir).
# The uid the manifests name (runAsUser: 10001). /var/lib/firebreak holds the SQLite file when
# no database URL is set; under a read-only root filesystem it is the emptyDir the manifests mount.
RUN groupadd --system --gid 10001 firebreak \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/firebreak \
        --shell /usr/sbin/nologin --no-create-home firebreak \
    && mkdir -p /var/lib/firebreak \
    && chown 10001:10001 /var/lib/firebreak
USER 10001:10001
WORKDIR /var/lib/firebreak
EXPOSE 8080 8090
# No curl in the image: python asks. The URL is the bot's by default; run as the LNN service,
# set FIREBREAK_HEALTHCHECK_URL=http://127.0.0.1:8090/health. (Kubernetes ignores HEALTHCHECK:
# the manifests' probes do its job there.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ.get('FIREBREAK_HEALTHCHECK_URL', 'http://127.0.0.1:8080/healthz'), timeout=4)"]
ENTRYPOINT ["firebreak"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
