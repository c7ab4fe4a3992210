# Dockyard console image. Build: docker build -t dockyard .
# Two stages: the first installs the locked dependencies (each checked against its hash) and the
# console's wheel into a virtualenv; the second is that virtualenv, the templates, static files and
# migrations, run as a non-root user. Production by default: no demo tenants, no default secret.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements/runtime.lock requirements/runtime.lock
RUN python -m venv /opt/dockyard \
    && /opt/dockyard/bin/pip install --require-hashes -r requirements/runtime.lock
COPY pyproject.toml README.md LICENSE babel.cfg ./
COPY app ./app
RUN /opt/dockyard/bin/pybabel compile -q -d app/locales -D messages \
    && /opt/dockyard/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/dockyard/bin/pip install --no-deps /wheels/*.whl

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/dockyard/bin:$PATH \
    DOCKYARD_ENV=production DOCKYARD_ROOT=/srv/dockyard
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin dockyard
COPY --from=build /opt/dockyard /opt/dockyard
WORKDIR /srv/dockyard
COPY alembic.ini ./
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
USER 10001:10001
EXPOSE 8000 9090
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"]
# Exec form: the console is PID 1 and gets SIGTERM itself (it stops accepting, finishes the requests in
# flight and ends the event streams within the grace period).
ENTRYPOINT ["dockyard"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
