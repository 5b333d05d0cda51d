#!/usr/bin/env python3
"""What SQLite itself costs to load rows whose key is a keyed pseudonym (random 63-bit integers),
as `his-condition` (`on_conflict: update`, `update: []`) does: side by side in one run, medians
of N runs, on the system's SQLite (the library Harmonize links):

* `upsert`: the key's unique index built first, every row `INSERT ... ON CONFLICT (key) DO NOTHING`
  (what the SQLite sink does for such a table);
* `append-then-index`: plain inserts, the unique index built after the load (what it does for a
  table without updates; valid when the rows have no duplicate key, else a deduplication pass
  would come first);

then, for both, the three foreign-key indexes the OMOP model gives `condition_occurrence`. Rows
of the shape of a condition (11 columns), no duplicate keys, journal off, 8 MiB page cache.

    python3 bench/sqlite_keyed_load.py [--rows 300000,1200000] [--repeat 3] [--dir /tmp]
"""
import argparse
import os
import random
import sqlite3
import statistics
import time

COLUMNS = "id INTEGER NOT NULL, person INTEGER, concept INTEGER, d TEXT, dt TEXT, t INTEGER, s INTEGER, sv TEXT, ssv TEXT, v INTEGER, vd INTEGER"


def rows(n):
    rnd = random.Random(1)
    return [(rnd.getrandbits(63), i, 0, "2024-01-01", "2024-01-01T08:00:00", 32817, 32902, "E11.0", "DP", 1000000 + i // 3,
             (1000000 + i // 3) * 1000 + 42) for i in range(n)]


def load(path, data, mode):
    for p in (path, path + "-journal"):
        if os.path.exists(p):
            os.remove(p)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-8192")
    db.execute(f"CREATE TABLE c ({COLUMNS})")
    c0, t0 = time.process_time(), time.perf_counter()
    db.execute("BEGIN")
    if mode == "upsert":
        db.execute("CREATE UNIQUE INDEX pk ON c(id)")
        db.executemany("INSERT INTO c VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING", data)
        db.execute("COMMIT")
    else:
        db.executemany("INSERT INTO c VALUES (?,?,?,?,?,?,?,?,?,?,?)", data)
        db.execute("COMMIT")
        db.execute("CREATE UNIQUE INDEX pk ON c(id)")
    loaded = time.perf_counter() - t0
    db.execute("CREATE INDEX ip ON c(person)")
    db.execute("CREATE INDEX iv ON c(v)")
    db.execute("CREATE INDEX ivd ON c(vd) WHERE vd IS NOT NULL")
    db.close()
    return loaded, time.perf_counter() - t0, time.process_time() - c0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="300000,1200000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default="/tmp")
    a = ap.parse_args()
    path = os.path.join(a.dir, f"harmonize-keyed-load-{os.getpid()}.sqlite")
    print(f"# SQLite keyed load — SQLite {sqlite3.sqlite_version}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"load average {os.getloadavg()[0]:.2f}\n")
    print("| rows | mode | key load s | with the 3 indexes s | CPU s | ÷ upsert (with indexes) | runs (with indexes) |")
    print("|---:|---|---:|---:|---:|---:|---|")
    for n in [int(x) for x in a.rows.split(",")]:
        data = rows(n)
        res = {"upsert": [], "append-then-index": []}
        for _ in range(a.repeat):
            for mode in res:   # interleaved
                res[mode].append(load(path, data, mode))
        base = statistics.median(r[1] for r in res["upsert"])
        for mode, runs in res.items():
            med = [statistics.median(r[k] for r in runs) for k in range(3)]
            print(f"| {n:,} | {mode} | {med[0]:.2f} | {med[1]:.2f} | {med[2]:.2f} | {med[1] / base:.2f}× | "
                  + ", ".join(f"{r[1]:.2f}" for r in runs) + " |")
    for p in (path, path + "-journal"):
        if os.path.exists(p):
            os.remove(p)


if __name__ == "__main__":
    main()
