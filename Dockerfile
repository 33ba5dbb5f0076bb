# crmstream: one image for the worker, the generator and the other `crmstream` commands.
#   docker build -t crmstream .
#   docker run --rm -e KAFKA_BOOTSTRAP_SERVERS=kafka-1:9092 -p 6066:6066 crmstream
# Configuration is environment variables only (README.md, "Configuration").

# The build stage has a compiler: not every dependency ships wheels for every architecture
# (faust-streaming has none for arm64), and none of it is needed at run time.
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/crmstream
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas/ schemas/
COPY models/ models/
COPY streams/ streams/
RUN /opt/crmstream/bin/pip install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/crmstream crmstream \
    && install -d -o crmstream -g crmstream /var/lib/crmstream
COPY --from=build /opt/crmstream /opt/crmstream
ENV PATH=/opt/crmstream/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CRMSTREAM_WEB_HOST=0.0.0.0 \
    CRMSTREAM_WEB_PORT=6066 \
    CRMSTREAM_DATA_DIR=/var/lib/crmstream/data
USER crmstream
# The worker's state and the generator's ground_truth.json are written here.
WORKDIR /var/lib/crmstream
EXPOSE 6066
# Liveness of the worker's web server; other commands (topics, generate) disable it in compose.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('CRMSTREAM_WEB_PORT', '6066') + '/live', timeout=4)"]
ENTRYPOINT ["crmstream"]
CMD ["worker"]
