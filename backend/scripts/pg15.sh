#!/bin/sh
# Run a command (e.g. the test suite) against a PostgreSQL 15 of its own: Debian's postgresql-15,
# in a temporary directory, reached through a unix socket there (no port to collide with), and
# stopped and deleted afterwards. DATABASE_URL names it; the exit code is the command's.
# As root, the server runs as the postgres user (PostgreSQL refuses to run as root).
set -eu
bin="${PG15_BIN:-/usr/lib/postgresql/15/bin}"
if [ ! -x "$bin/pg_ctl" ]; then
    echo "pg15.sh: no PostgreSQL 15 in $bin (apt-get install postgresql-15)" >&2
    exit 2
fi
[ $# -gt 0 ] || { echo "usage: pg15.sh COMMAND [ARGS...]" >&2; exit 2; }

dir="$(mktemp -d "${TMPDIR:-/tmp}/kurz-pg15-XXXXXX")"
if [ "$(id -u)" = 0 ]; then
    chown postgres "$dir"
    as_server() { runuser -u postgres -- "$@"; }
else
    as_server() { "$@"; }
fi
stop() {
    as_server "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

as_server "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses='' -k $dir -c fsync=off -c max_connections=200" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }

export DATABASE_URL="postgresql://postgres@/postgres?host=$dir"
status=0
"$@" || status=$?
exit "$status"
