#!/usr/bin/env bash
# sqlite3 CLI peer: raw .import of a ';' CSV (header line -> TEXT columns), no mapping at all,
# inside one explicit transaction with journal_mode=OFF and synchronous=OFF.
# Usage: sqlite_import.sh CLAIMS.csv OUT.db        (OUT.db is replaced)
set -euo pipefail
if [ $# -ne 2 ]; then echo "usage: $0 CLAIMS.csv OUT.db" >&2; exit 2; fi
src=$1
out=$2
rm -f -- "$out" "$out-journal" "$out-wal" "$out-shm"
sqlite3 "$out" <<SQL >/dev/null
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
.mode csv
.separator ";"
BEGIN;
.import '${src//\'/\'\'}' er_prs_f
COMMIT;
SQL
