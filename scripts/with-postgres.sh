#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL server on 127.0.0.1 and FANCARE_TEST_POSTGRES_URL set.
# Installs Debian's postgresql package when it is missing and we are root. Stops the server after.
set -euo pipefail

if [ -n "${FANCARE_TEST_POSTGRES_URL:-}" ]; then exec "$@"; fi

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
PGBIN="$(find_bin || true)"
if [ -z "$PGBIN" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "installing PostgreSQL (Debian package)..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
      || { echo "could not install PostgreSQL" >&2; exit 1; }
    PGBIN="$(find_bin)"
  else
    echo "PostgreSQL is not installed: install it (Debian: apt-get install postgresql) to run the PostgreSQL tests" >&2
    exit 1
  fi
fi

PGDATA="$(mktemp -d /tmp/fancare-pg.XXXXXX)"
PORT="${FANCARE_PG_PORT:-$(( 20000 + RANDOM % 20000 ))}"
RUNAS=()
if [ "$(id -u)" = "0" ]; then chown postgres "$PGDATA"; RUNAS=(su postgres -s /bin/sh -c); fi
run_pg() { if [ ${#RUNAS[@]} -gt 0 ]; then "${RUNAS[@]}" "$*"; else sh -c "$*"; fi; }

run_pg "$PGBIN/initdb -D $PGDATA -A trust -U postgres >/dev/null"
run_pg "$PGBIN/pg_ctl -D $PGDATA -l $PGDATA/server.log -o '-p $PORT -k $PGDATA -c listen_addresses=127.0.0.1 -c fsync=off' -w start >/dev/null"
cleanup() { run_pg "$PGBIN/pg_ctl -D $PGDATA -m fast -w stop >/dev/null" || true; rm -rf "$PGDATA"; }
trap cleanup EXIT
run_pg "$PGBIN/createdb -h 127.0.0.1 -p $PORT -U postgres fancare_test"

export FANCARE_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/fancare_test"
echo "PostgreSQL for tests: $FANCARE_TEST_POSTGRES_URL" >&2
"$@"
