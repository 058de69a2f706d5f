# One image for every SMA service; the command selects which one runs:
#   docker run sma scheduler | collector | gateway | maintenance | simulator | sma db upgrade
FROM python:3.11-slim AS build
WORKDIR /src
COPY constraints.txt ./
COPY libs ./libs
COPY services ./services
COPY simulator ./simulator
COPY cli ./cli
RUN python -m venv /opt/sma \
 && /opt/sma/bin/pip install --no-cache-dir --upgrade "pip>=24" \
 && /opt/sma/bin/pip install --no-cache-dir -c constraints.txt \
      ./libs/common ./libs/platforms ./services/scheduler ./services/collector ./services/api-gateway \
      ./services/maintenance ./simulator ./cli

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home sma
COPY --from=build /opt/sma /opt/sma
COPY deploy/docker/entrypoint.sh /usr/local/bin/sma-entrypoint
ENV PATH=/opt/sma/bin:$PATH PYTHONUNBUFFERED=1 SMA_LOG_FORMAT=json
USER 10001
ENTRYPOINT ["sma-entrypoint"]
CMD ["gateway"]
