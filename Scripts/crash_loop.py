#!/usr/bin/env python3
"""Kills `harmonize-run run` with SIGKILL at many points of a run, and checks each time that the
output is never wrong (issue 15, items 1 and 2).

The longer companion of `CrashConsistencyTests` (which kills 32 times in the test suite). For each
kill: a run starts on the same output; after a delay drawn uniformly over [0, 1.1 × the measured
duration of an uninterrupted run] it is killed; then
- no journal or WAL is beside the output (nothing writes into a published file),
- the output is absent or passes `PRAGMA integrity_check` and holds exactly what an uninterrupted
  run writes (tables, ledger, data-quality results; not run ids and times).
After the last kill, one clean run must succeed, equal the uninterrupted run, and leave nothing
beside the output but its lock file (no staging file, no journal).

Where each run was killed is judged from what it left (a staging file being loaded, indexed,
storing quality results; or a new output published). Exit status 0 when every check held.

Run from the repository root after `swift build`:

    python3 Scripts/crash_loop.py [--kills 200] [--binary .build/debug/harmonize-run] [--seed N]

The last result is kept in the README (section "Crash consistency").
"""
import argparse
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def run_args(binary, out):
    return [binary, "run", "--mappings", os.path.join(ROOT, "mappings/research"),
            "--input", os.path.join(ROOT, "fixtures/research/input"), "--output", out, "--no-progress"]


def connect(path):
    return sqlite3.connect("file:" + path + "?mode=ro", uri=True)


def content(path):
    db = connect(path)
    try:
        out = {}
        for t in ["person", "measurement", "observation", "observation_period"]:
            out[t] = db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
        out["ledger"] = db.execute(
            "SELECT mapping, file, read, written, rejected, filtered FROM harmonize_ledger ORDER BY 1, 2").fetchall()
        out["quality"] = db.execute(
            "SELECT check_id, status, rows_checked, rows_violating FROM harmonize_quality ORDER BY 1").fetchall()
        return out
    finally:
        db.close()


def run_id(path):
    if not os.path.exists(path):
        return None
    try:
        db = connect(path)
        try:
            row = db.execute("SELECT run_id FROM harmonize_run").fetchone()
            return row[0] if row else None
        finally:
            db.close()
    except sqlite3.Error:
        return "unreadable"


def phase(folder, out, before):
    if run_id(out) != before:
        return "published"
    names = os.listdir(folder)
    staging = [n for n in names if n.startswith(".o.sqlite.staging-") and not n.endswith("-journal")]
    if not staging:
        return "starting"
    if staging[0] + "-journal" in names:
        return "quality"
    try:
        db = connect(os.path.join(folder, staging[0]))
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "harmonize_quality" in tables:
                return "publishing"
            if db.execute("SELECT count(*) FROM harmonize_run").fetchone()[0] > 0:
                return "indexing or quality"
        finally:
            db.close()
    except sqlite3.Error:
        pass
    return "loading"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=200)
    p.add_argument("--binary", default=os.path.join(ROOT, ".build/debug/harmonize-run"))
    p.add_argument("--seed", type=int, default=None)
    a = p.parse_args()
    rng = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="harmonize-crash-loop-")
    folder = os.path.join(work, "out")
    os.makedirs(folder)
    reference = os.path.join(work, "reference.sqlite")
    t0 = time.monotonic()
    r = subprocess.run(run_args(a.binary, reference), capture_output=True)
    duration = time.monotonic() - t0
    if r.returncode != 0:
        sys.exit("the uninterrupted run failed: " + r.stderr.decode(errors="replace"))
    expected = content(reference)
    out = os.path.join(folder, "o.sqlite")
    failures = []
    phases = {}
    started = time.monotonic()
    for i in range(a.kills):
        delay = rng.uniform(0, 1.1 * duration)
        before = run_id(out)
        proc = subprocess.Popen(run_args(a.binary, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        ph = phase(folder, out, before)
        phases[ph] = phases.get(ph, 0) + 1
        for side in ["-journal", "-wal"]:
            if os.path.exists(out + side):
                failures.append(f"kill {i} ({ph}, {delay:.3f} s): {side} beside the output")
        if os.path.exists(out):
            try:
                db = connect(out)
                ok = db.execute("PRAGMA integrity_check").fetchone()[0]
                db.close()
                if ok != "ok":
                    failures.append(f"kill {i} ({ph}, {delay:.3f} s): integrity_check: {ok}")
                elif content(out) != expected:
                    failures.append(f"kill {i} ({ph}, {delay:.3f} s): the output differs from an uninterrupted run")
            except sqlite3.Error as e:
                failures.append(f"kill {i} ({ph}, {delay:.3f} s): {e}")
    r = subprocess.run(run_args(a.binary, out), capture_output=True)
    if r.returncode != 0:
        failures.append("the clean rerun failed: " + r.stderr.decode(errors="replace"))
    elif content(out) != expected:
        failures.append("the clean rerun differs from an uninterrupted run")
    left = sorted(os.listdir(folder))
    if left != [".o.sqlite.lock", "o.sqlite"]:
        failures.append(f"left beside the output after the clean rerun: {left}")
    elapsed = time.monotonic() - started
    print(f"{a.kills} kills over runs of {duration:.2f} s, in {elapsed:.0f} s; killed while: "
          + ", ".join(f"{k} {v}" for k, v in sorted(phases.items())))
    print(f"failures: {len(failures)}")
    for f in failures[:20]:
        print("  " + f)
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
