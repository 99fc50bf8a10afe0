# Kurz production image: the app served by uvicorn (python -m kurz), migrations applied on start.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PDM_CHECK_UPDATE=false

# pdm 2.29 needs these pins today (unearth 0.19 pulls a broken dependency).
RUN pip install "pdm==2.29.*" "unearth<0.19" "hishel>=1,<2"

WORKDIR /app/backend
# Dependencies first, so code changes do not reinstall them.
COPY backend/pyproject.toml backend/pdm.lock ./
RUN pdm install --prod --frozen-lockfile --no-self
COPY backend/ ./
COPY frontend/ /app/frontend/
# .data (KURZ_DATA_DIR) is the one place Kurz writes: its volume takes this owner when created.
RUN pdm install --prod --frozen-lockfile \
    && useradd --system --uid 10001 --home-dir /app kurz \
    && mkdir -p /app/backend/.data && chown kurz /app/backend/.data

USER kurz
ENV PATH=/app/backend/.venv/bin:$PATH \
    KURZ_ENV=production \
    KURZ_DATA_DIR=/app/backend/.data \
    KURZ_HOST=0.0.0.0 \
    KURZ_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
# SIGTERM lets uvicorn finish in-flight requests and flush buffered clicks.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "kurz"]
