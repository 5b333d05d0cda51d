#!/usr/bin/env python3
"""Run a Harmonize run as N shards on Apache Spark, then merge and publish it once.

Each Spark task runs ``harmonize-run run --shard i/N --run-id ID`` (the binary shipped with the
job by ``SparkContext.addFile``, or a path every executor can read) into a private attempt folder
beside the shard folder, then publishes its shard file by an atomic, create-if-absent link
(``os.link``): a retried or speculative attempt of a shard that is already published discards its
own file, so any number of attempts leave exactly one file per shard. When all N shard files are
present, the driver runs ``harmonize-run merge`` (which publishes the merged output by atomic
rename). A rerun of the same run id reuses the shard files already published and does nothing if
the merged output of that run id is already there.

With a PostgreSQL ``--output`` (``postgresql://USER@HOST:PORT/DB?schema=NAME``; the password from
``PGPASSWORD`` or ``~/.pgpass`` on the executors, never in the URI) there are no shard files: each
task runs ``harmonize-run run --shard i/N --run-id ID --output URI``, which commits the shard's rows
in one transaction with its row in the schema's shard ledger (a shard already committed, by a
retried or speculative attempt, exits 0 and changes nothing); the shard that completes the ledger
publishes the run, and the driver then runs ``harmonize-run publish`` (a no-op when it is published)
so the run is published even if that shard could not. See docs/postgresql.md.

Spark's task retries and speculation are left on (``spark.speculation`` is set true unless
``--no-speculation``). The pseudonymisation key never appears on a command line: give
``--key-env NAME`` (the variable must be set in the executors' environment: inherited in local mode;
on a cluster, from a secret, e.g. ``spark.kubernetes.executor.secretKeyRef.NAME``) or
``--key-file PATH`` (a file every executor can read). See docs/scale-out.md.

Usage::

    spark-submit scale/spark/harmonize_spark.py --binary .build/release/harmonize-run \\
        --shards 8 --run-id 2026-12-extract --shard-dir /shared/shards --output /shared/omop.sqlite \\
        --key-env HZ_KEY -- --mappings mappings/snds --input /shared/extract --vocabulary /shared/vocab.sqlite

    spark-submit scale/spark/harmonize_spark.py --binary .build/release/harmonize-run \\
        --shards 8 --run-id 2026-12-extract --output 'postgresql://etl@db:5432/omop?schema=cdm' \\
        --key-env HZ_KEY -- --mappings mappings/snds --input /shared/extract --vocabulary /shared/vocab.sqlite
"""

import argparse
import glob
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid

# Test hook: "I" or "I:DIR" makes the first attempt of shard I fail after its run (before its
# shard file is published), once per marker file (DIR, default the shard folder). Tests only.
FAIL_ONCE_VARIABLE = "HARMONIZE_SPARK_FAIL_ONCE"
# Options of `harmonize-run run` the driver sets itself.
RESERVED = ("--output", "--shard", "--run-id", "--json")


def is_postgresql(output):
    """Whether the output is a PostgreSQL URI (the shards then commit into its shard ledger)."""
    return output.startswith("postgresql://") or output.startswith("postgres://")


def shard_file(shard_dir, run_id, index, count):
    """The published file of shard index/count."""
    return os.path.join(shard_dir, f"{run_id}.shard-{index}-of-{count}.sqlite")


def run_of(path):
    """(run id, shard index, shard count, merged shard count) of a Harmonize output, or None."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT run_id, manifest FROM harmonize_run").fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return None
    if len(rows) != 1:
        return None
    manifest = json.loads(rows[0][1])
    shard = manifest.get("shard") or {}
    merged = manifest.get("mergedShards")
    return rows[0][0], shard.get("index"), shard.get("count"), (len(merged) if merged else None)


def run_shard(index, count, run_id, shard_dir, binary, run_args, key_args):
    """Runs shard index/count unless it is published; returns (index, path, what happened)."""
    final = shard_file(shard_dir, run_id, index, count)
    if os.path.exists(final) and run_of(final) == (run_id, index, count, None):
        return index, final, "already published"
    attempt = os.path.join(shard_dir, f".attempt-{run_id}-{index}-{uuid.uuid4().hex}")
    os.makedirs(attempt)
    try:
        out = os.path.join(attempt, "shard.sqlite")
        command = [binary, "run", *run_args, *key_args, "--output", out, "--shard", f"{index}/{count}",
                   "--run-id", run_id, "--no-progress"]
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Exit 1: published, with rejects over --max-reject-rate or failed checks: still a shard.
        if done.returncode not in (0, 1) or not os.path.exists(out):
            raise RuntimeError(f"shard {index}/{count}: harmonize-run exited {done.returncode}: {done.stderr[-2000:]}")
        fail_once(index, shard_dir)
        try:
            os.link(out, final)  # atomic; fails if another attempt published first
            what = "published"
        except FileExistsError:
            what = "published by another attempt"
        except OSError:
            # A file system without hard links: atomic replace (the attempts' files are equivalent).
            os.replace(out, final)
            what = "published"
        return index, final, what
    finally:
        shutil.rmtree(attempt, ignore_errors=True)


def run_shard_postgresql(index, count, run_id, output, binary, run_args, key_args):
    """Runs shard index/count into a PostgreSQL output; returns (index, output, what happened):
    the status harmonize-run gives (committed, published, shard-already-committed, already-published)."""
    command = [binary, "run", *run_args, *key_args, "--output", output, "--shard", f"{index}/{count}",
               "--run-id", run_id, "--no-progress", "--json"]
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Exit 1: committed, with rejects over --max-reject-rate: still a shard.
    if done.returncode not in (0, 1):
        raise RuntimeError(f"shard {index}/{count}: harmonize-run exited {done.returncode}: {done.stderr[-2000:]}")
    try:
        doc = json.loads(done.stdout)
    except ValueError:
        raise RuntimeError(f"shard {index}/{count}: harmonize-run printed no JSON summary: {done.stderr[-2000:]}")
    what = (doc.get("shards") or doc).get("status", "committed")
    fail_once(index, None)
    return index, output, what


def fail_once(index, shard_dir):
    """The test hook (FAIL_ONCE_VARIABLE)."""
    spec = os.environ.get(FAIL_ONCE_VARIABLE)
    if not spec:
        return
    wanted, _, folder = spec.partition(":")
    if str(index) != wanted or not (folder or shard_dir):
        return
    marker = os.path.join(folder or shard_dir, f".failed-once-{index}")
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    raise RuntimeError(f"shard {index}: failing its first attempt on purpose ({FAIL_ONCE_VARIABLE})")


def parse(argv):
    p = argparse.ArgumentParser(description="Run harmonize-run as N shards on Spark, then merge and publish.")
    p.add_argument("--binary", required=True, help="harmonize-run to ship with the job (SparkContext.addFile)")
    p.add_argument("--binary-on-executors", action="store_true",
                   help="do not ship --binary: it is a path every executor can run")
    p.add_argument("--shards", type=int, required=True, help="number of shards (Spark tasks)")
    p.add_argument("--run-id", required=True, help="the run id shared by the shards (reruns reuse it)")
    p.add_argument("--shard-dir", help="shared folder the shard files are published to (a SQLite output)")
    p.add_argument("--output", required=True,
                   help="the merged SQLite output, or a PostgreSQL URI postgresql://USER@HOST:PORT/DB?schema=NAME")
    key = p.add_mutually_exclusive_group()
    key.add_argument("--key-env", help="environment variable holding the key, set on the executors")
    key.add_argument("--key-file", help="file holding the key, readable by every executor")
    p.add_argument("--master", help="Spark master (default: spark-submit's)")
    p.add_argument("--no-speculation", action="store_true", help="do not turn Spark speculation on")
    p.add_argument("run_args", nargs=argparse.REMAINDER, help="-- then the options of harmonize-run run")
    args = p.parse_args(argv)
    if args.run_args and args.run_args[0] == "--":
        args.run_args = args.run_args[1:]
    if args.shards < 1:
        p.error("--shards is at least 1")
    if not is_postgresql(args.output) and not args.shard_dir:
        p.error("--shard-dir is required with a SQLite --output")
    for a in args.run_args:
        if a.split("=")[0] in RESERVED + ("--key-env", "--key-file"):
            p.error(f"{a} is set by the driver (give the key with the driver's --key-env or --key-file)")
    return args


def main(argv=None, spark_conf=None):
    """Runs the job; returns the merged output's path. spark_conf: extra SparkConf pairs."""
    args = parse(sys.argv[1:] if argv is None else argv)
    from pyspark import SparkConf, SparkContext, SparkFiles

    postgresql = is_postgresql(args.output)
    if not postgresql:
        os.makedirs(args.shard_dir, exist_ok=True)
    if not postgresql and os.path.exists(args.output) and run_of(args.output) == (args.run_id, None, None, args.shards):
        print(f"harmonize_spark: run {args.run_id} is already published at {args.output}", file=sys.stderr)
        return args.output
    conf = SparkConf().setAppName(f"harmonize {args.run_id}")
    if args.master:
        conf.setMaster(args.master)
    if not args.no_speculation:
        conf.set("spark.speculation", "true")
    for k, v in (spark_conf or {}).items():
        conf.set(k, v)
    sc = SparkContext.getOrCreate(conf)
    try:
        # The tasks call this module's functions: ship it to the executors' Python workers.
        sc.addPyFile(os.path.abspath(__file__))
        binary = os.path.abspath(args.binary)
        if not args.binary_on_executors:
            sc.addFile(binary)
        name = os.path.basename(binary)
        ship = not args.binary_on_executors
        key_args = ["--key-env", args.key_env] if args.key_env else (["--key-file", args.key_file] if args.key_file else [])
        run_id, count, run_args, output = args.run_id, args.shards, list(args.run_args), args.output
        shard_dir = None if postgresql else os.path.abspath(args.shard_dir)

        def task(index):
            exe = binary
            if ship:
                exe = SparkFiles.get(name)
                if not os.access(exe, os.X_OK):
                    os.chmod(exe, 0o755)
            if postgresql:
                return run_shard_postgresql(index, count, run_id, output, exe, run_args, key_args)
            return run_shard(index, count, run_id, shard_dir, exe, run_args, key_args)

        results = sc.parallelize(range(count), count).map(task).collect()
    finally:
        sc.stop()
    for index, path, what in sorted(results):
        print(f"harmonize_spark: shard {index}/{args.shards}: {what}", file=sys.stderr)
    if postgresql:
        # Every shard is committed: publish (a no-op when the last shard did it).
        published = subprocess.run([os.path.abspath(args.binary), "publish", "--run-id", args.run_id, "--output", args.output],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if published.returncode != 0:
            raise SystemExit(f"harmonize_spark: publish exited {published.returncode}: {published.stderr[-2000:]}")
        print(f"harmonize_spark: run {args.run_id}: {args.shards} shards published into {args.output}", file=sys.stderr)
        return args.output
    files = [shard_file(args.shard_dir, args.run_id, i, args.shards) for i in range(args.shards)]
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        raise SystemExit(f"harmonize_spark: shard files missing: {missing}")
    # Attempts killed before their cleanup (a lost executor) leave folders: none is needed now.
    for leftover in glob.glob(os.path.join(args.shard_dir, f".attempt-{args.run_id}-*")):
        shutil.rmtree(leftover, ignore_errors=True)
    merged = subprocess.run([os.path.abspath(args.binary), "merge", "--output", args.output, *files],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if merged.returncode not in (0, 1):
        raise SystemExit(f"harmonize_spark: merge exited {merged.returncode}: {merged.stderr[-2000:]}")
    print(f"harmonize_spark: run {args.run_id}: {args.shards} shards merged into {args.output}", file=sys.stderr)
    return args.output


if __name__ == "__main__":
    main()
