# One image for every SMA service; the command selects which one runs (deploy/docker/entrypoint.sh):
#   docker run sma scheduler | collector | gateway | maintenance | simulator | sma db upgrade
# Build stage: a venv at /opt/sma with our packages and their dependencies, every version pinned
# by constraints.txt. Every dependency ships a wheel for this Python, so no compiler is needed
# here either; the final stage copies only the venv.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY constraints.txt ./
COPY libs/common ./libs/common
COPY libs/platforms ./libs/platforms
COPY services ./services
COPY simulator ./simulator
COPY cli ./cli
RUN python -m venv /opt/sma \
 && /opt/sma/bin/pip install --only-binary=:all: -c constraints.txt "pip>=24" "setuptools>=68" wheel \
 && /opt/sma/bin/pip wheel --wheel-dir /wheels --only-binary=:all: --no-build-isolation -c constraints.txt \
      ./libs/common ./libs/platforms ./services/scheduler ./services/collector ./services/api-gateway \
      ./services/maintenance ./simulator ./cli \
 && /opt/sma/bin/pip install --no-index --find-links /wheels /wheels/*.whl \
 && /opt/sma/bin/pip check \
 && /opt/sma/bin/pip uninstall --yes pip setuptools wheel \
 && /opt/sma/bin/python -m compileall -q /opt/sma

# Final stage: the interpreter and the venv; no compilers, no pip in the venv, a numeric
# non-root user, nothing written outside /tmp (mount an emptyDir there with a read-only root).
FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 sma \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin sma
COPY --from=build /opt/sma /opt/sma
COPY --chmod=0555 deploy/docker/entrypoint.sh /usr/local/bin/sma-entrypoint
ENV PATH=/opt/sma/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 SMA_LOG_FORMAT=json
USER 10001:10001
EXPOSE 8080 8081 8082 8083
# Each service serves /livez on SMA_HTTP_PORT (8080 unless set).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/livez' % os.environ.get('SMA_HTTP_PORT', '8080'), timeout=2)"]
ENTRYPOINT ["sma-entrypoint"]
CMD ["gateway"]
