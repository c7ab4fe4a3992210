# Dockyard console image. Build: docker build -t dockyard .
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv/dockyard
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install . && pybabel compile -q -d app/locales -D messages || true
COPY alembic.ini ./
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY deploy ./deploy
RUN useradd --system --uid 10001 dockyard && mkdir -p /srv/dockyard/.dockyard && chown dockyard /srv/dockyard/.dockyard
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["sh", "-c", "dockyard db upgrade && dockyard serve --host 0.0.0.0 --port 8000"]
