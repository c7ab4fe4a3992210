#!/usr/bin/env bash
# Start (or stop) a throwaway PostgreSQL for the test suite on 127.0.0.1:${DOCKYARD_PG_PORT:-55432} (or,
# when that port is taken, e.g. by another clone's, a free one), from Debian's postgresql package.
# Prints the SQLAlchemy URL on success.
set -euo pipefail
cmd=${1:-start}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR="$ROOT/.dockyard/pg"
port_free() { python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1])))" "$1" 2>/dev/null; }
if [ -n "${DOCKYARD_PG_PORT:-}" ]; then PORT=$DOCKYARD_PG_PORT
elif [ -f "$DIR/port" ]; then PORT=$(cat "$DIR/port")
else PORT=55432; fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$PGBIN" ]; then
  echo "error: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1
fi
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
  start)
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$DIR" && chmod 700 "$DIR"
    if [ ! -f "$DIR/PG_VERSION" ]; then
      as_pg "$PGBIN/initdb" -D "$DIR" -U dockyard --auth=trust -E UTF8 >/dev/null
    fi
    if ! as_pg "$PGBIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
      if [ -z "${DOCKYARD_PG_PORT:-}" ] && ! port_free "$PORT"; then
        PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
      fi
      echo "$PORT" > "$DIR/port"
      as_pg "$PGBIN/pg_ctl" -D "$DIR" -w -t 60 -l "$DIR/server.log" \
        -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null \
        || { echo "error: PostgreSQL did not start; see $DIR/server.log" >&2; tail -20 "$DIR/server.log" >&2; exit 1; }
    fi
    echo "postgresql+asyncpg://dockyard@127.0.0.1:$PORT/postgres"
    ;;
  stop)
    if [ -f "$DIR/PG_VERSION" ]; then as_pg "$PGBIN/pg_ctl" -D "$DIR" -m fast stop >/dev/null 2>&1 || true; fi
    ;;
esac
