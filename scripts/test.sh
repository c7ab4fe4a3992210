#!/usr/bin/env bash
# The whole suite, first on SQLite, then on PostgreSQL (started here unless DOCKYARD_TEST_DATABASE_URL is set).
# Cluster tests use the local control plane that `make cluster` started.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTEST=(.venv/bin/python -m pytest -q -p no:cacheprovider "$@")
echo "== suite on SQLite =="
DOCKYARD_TEST_DATABASE_URL= "${PYTEST[@]}"; sqlite_rc=$?
pg_url=${DOCKYARD_TEST_DATABASE_URL:-}
started_pg=0
if [ -z "$pg_url" ]; then
  pg_url=$(scripts/postgres.sh start) || exit 1
  started_pg=1
fi
echo "== suite on PostgreSQL ($pg_url) =="
DOCKYARD_TEST_DATABASE_URL="$pg_url" "${PYTEST[@]}"; pg_rc=$?
[ "$started_pg" = 1 ] && [ -z "${DOCKYARD_KEEP_PG:-}" ] && scripts/postgres.sh stop
echo "SQLite: $([ $sqlite_rc = 0 ] && echo passed || echo FAILED)   PostgreSQL: $([ $pg_rc = 0 ] && echo passed || echo FAILED)"
[ $sqlite_rc = 0 ] && [ $pg_rc = 0 ]
