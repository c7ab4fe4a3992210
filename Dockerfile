# Dockyard console image. Build: docker build -t dockyard .
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv/dockyard
# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir app && touch app/__init__.py && pip install -e . && rm -r app
COPY app ./app
COPY alembic.ini babel.cfg ./
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY deploy ./deploy
# Templates, static files and catalogues are read from the source tree (an editable install).
RUN pip install --no-deps -e . && pybabel -q compile -d app/locales -D messages
RUN useradd --system --uid 10001 dockyard && mkdir -p /srv/dockyard/.dockyard && chown dockyard /srv/dockyard/.dockyard
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["sh", "-c", "dockyard db upgrade && dockyard serve --host 0.0.0.0 --port 8000"]
