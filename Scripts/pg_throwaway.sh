#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for the tests (issue 14): its own data directory in a temp
# folder, owned by an unprivileged user (CI runs as root), listening on 127.0.0.1 on a free
# port, its unix socket in the temp folder, trust authentication for loopback only.
#
#   eval "$(Scripts/pg_throwaway.sh start)"   # exports HARMONIZE_TEST_POSTGRES and PG_THROWAWAY_DIR
#   Scripts/pg_throwaway.sh stop "$PG_THROWAWAY_DIR"
#
# `start` prints shell `export` lines on standard output (everything else goes to standard
# error). The user is the current one when not root, else `harmonize-ci` (created when missing,
# no login shell, no password).
set -euo pipefail

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
  for v in 17 16 15; do
    if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then bindir=/usr/lib/postgresql/$v/bin; break; fi
  done
fi
[ -n "$bindir" ] || { echo "pg_throwaway: no PostgreSQL server binaries (apt-get install postgresql-15)" >&2; exit 3; }

as_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$pguser" -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
  if [ "$(id -u)" = 0 ]; then
    pguser=harmonize-ci
    if ! id "$pguser" >/dev/null 2>&1; then
      useradd --system --no-create-home --shell /usr/sbin/nologin "$pguser" >&2
    fi
  else
    pguser=$(id -un)
  fi
  dir=$(mktemp -d /tmp/harmonize-pg.XXXXXX)
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown "$pguser" "$dir"
  # A free port: ask the kernel for one.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  as_user "$bindir/initdb" -D "$dir/data" -U "$pguser" --auth-local=trust --auth-host=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 3; }
  # Loopback only (pg_hba from initdb trusts 127.0.0.1/32 and ::1 only); fsync off: a throwaway server.
  as_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60" \
    start >&2 || { cat "$dir/server.log" >&2; exit 3; }
  as_user "$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$pguser" harmonize_test >&2
  echo "export HARMONIZE_TEST_POSTGRES='postgresql://$pguser@127.0.0.1:$port/harmonize_test'"
  echo "export PG_THROWAWAY_DIR='$dir'"
  ;;
stop)
  dir=${2:-${PG_THROWAWAY_DIR:-}}
  [ -n "$dir" ] && [ -d "$dir/data" ] || { echo "pg_throwaway: no server folder given" >&2; exit 2; }
  pguser=$(stat -c %U "$dir/data")
  as_user "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start | stop DIR" >&2
  exit 2
  ;;
esac
