"""The Spark driver end to end: a local[2,2] Spark run of 4 shards of the bundled SNDS pack, the
first attempt of one task failing on purpose, equals a single run (every OMOP table compared
order-independently, rejects and ledger totals too); a rerun of the run id changes nothing. The
same into PostgreSQL when HARMONIZE_TEST_POSTGRES names a server (Scripts/pg_throwaway.sh start):
the shards commit into the schema's shard ledger and the driver publishes.

Needs pyspark and Java 17, and the built harmonize-run (HARMONIZE_RUN, default .build/debug).
Run by .ci/run in a virtual environment: python -m pytest scale/spark.
"""

import os
import shutil
import sqlite3
import subprocess
import sys
import uuid

import pytest

pyspark = pytest.importorskip("pyspark")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BINARY = os.environ.get("HARMONIZE_RUN", os.path.join(ROOT, ".build", "debug", "harmonize-run"))
KEY_VARIABLE = "HZ_SPARK_TEST_KEY"
RUN_ARGS = ["--mappings", os.path.join(ROOT, "mappings", "snds"), "--input", os.path.join(ROOT, "fixtures", "snds", "input"),
            "--vocabulary", os.path.join(ROOT, "fixtures", "vocabulary"), "--max-reject-rate", "1", "--no-quality"]

sys.path.insert(0, HERE)
import harmonize_spark  # noqa: E402


def tables(path):
    """Every OMOP table as a sorted list of rows."""
    con = sqlite3.connect(path)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'harmonize_%'")]
        return {n: sorted(map(repr, con.execute(f'SELECT * FROM "{n}"'))) for n in names}
    finally:
        con.close()


def totals(path):
    con = sqlite3.connect(path)
    try:
        ledger = sorted(con.execute(
            "SELECT mapping, file, group_stage, read, written, rejected, filtered, excluded, grouped FROM harmonize_ledger"))
        rejects = sorted(con.execute("SELECT mapping, file, line, reason, rule FROM harmonize_reject"))
        return ledger, rejects
    finally:
        con.close()


@pytest.fixture(autouse=True)
def key(monkeypatch):
    if not os.access(BINARY, os.X_OK):
        pytest.skip(f"no harmonize-run at {BINARY} (build it, or set HARMONIZE_RUN)")
    monkeypatch.setenv(KEY_VARIABLE, "k" * 40)  # inherited by local executors; never an argument


def test_four_shards_with_a_failing_task_equal_a_single_run(tmp_path, monkeypatch):
    single = tmp_path / "single.sqlite"
    subprocess.run([BINARY, "run", *RUN_ARGS, "--key-env", KEY_VARIABLE, "--output", str(single)], check=True,
                   stdout=subprocess.DEVNULL)
    shard_dir = tmp_path / "shards"
    marker_dir = tmp_path / "markers"
    marker_dir.mkdir()
    monkeypatch.setenv(harmonize_spark.FAIL_ONCE_VARIABLE, f"1:{marker_dir}")
    argv = ["--binary", BINARY, "--shards", "4", "--run-id", "spark-test", "--shard-dir", str(shard_dir),
            "--output", str(tmp_path / "merged.sqlite"), "--key-env", KEY_VARIABLE, "--master", "local[2,2]", "--", *RUN_ARGS]
    out = harmonize_spark.main(argv, spark_conf={"spark.ui.enabled": "false"})
    # The first attempt of shard 1 failed (its marker is there) and Spark retried it.
    assert (marker_dir / ".failed-once-1").exists()
    assert sorted(os.listdir(shard_dir)) == [f"spark-test.shard-{i}-of-4.sqlite" for i in range(4)]
    assert tables(out) == tables(single)
    assert totals(out) == totals(single)
    # A rerun of the run id publishes nothing new.
    before = os.stat(out).st_mtime_ns
    harmonize_spark.main(argv, spark_conf={"spark.ui.enabled": "false"})
    assert os.stat(out).st_mtime_ns == before


def test_a_shard_already_published_is_not_run_again(tmp_path):
    shard_dir = tmp_path / "shards"
    shard_dir.mkdir()
    first = harmonize_spark.run_shard(2, 4, "again", str(shard_dir), BINARY, RUN_ARGS, ["--key-env", KEY_VARIABLE])
    assert first[2] == "published"
    mtime = os.stat(first[1]).st_mtime_ns
    second = harmonize_spark.run_shard(2, 4, "again", str(shard_dir), BINARY, RUN_ARGS, ["--key-env", KEY_VARIABLE])
    assert second[2] == "already published"
    assert os.stat(first[1]).st_mtime_ns == mtime
    assert not [n for n in os.listdir(shard_dir) if n.startswith(".attempt-")]


def test_the_key_is_refused_as_a_run_argument():
    with pytest.raises(SystemExit):
        harmonize_spark.parse(["--binary", "x", "--shards", "2", "--run-id", "r", "--shard-dir", "d", "--output", "o",
                               "--", "--key-file", "k"])


def psql(uri, sql):
    """Rows of a query, as lists of text (psql's unaligned output)."""
    done = subprocess.run([shutil.which("psql"), uri, "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return [line.split("\t") for line in done.stdout.splitlines()]


def pg_tables(uri, schema):
    """Every OMOP table of a schema as a sorted list of rows."""
    names = [r[0] for r in psql(uri, f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}' "
                                     "AND table_name NOT LIKE 'harmonize%'")]
    return {n: sorted(r[0] for r in psql(uri, f"SELECT t::text FROM {schema}.{n} t")) for n in names}


def pg_totals(uri, schema):
    ledger = sorted(map(tuple, psql(uri, "SELECT mapping, file, group_stage, read, written, rejected, filtered, excluded, grouped "
                                         f"FROM {schema}.harmonize_ledger")))
    rejects = sorted(map(tuple, psql(uri, f"SELECT mapping, file, line, reason, rule FROM {schema}.harmonize_reject")))
    return ledger, rejects


def test_four_shards_into_postgresql_with_a_failing_task_equal_a_single_run(tmp_path):
    uri = os.environ.get("HARMONIZE_TEST_POSTGRES")
    if not uri:
        pytest.skip("no PostgreSQL server: set HARMONIZE_TEST_POSTGRES (eval \"$(Scripts/pg_throwaway.sh start)\")")
    if not shutil.which("psql"):
        pytest.skip("no psql to read the PostgreSQL output back")
    suffix = uuid.uuid4().hex[:8]
    single, sharded = f"t_spark_single_{suffix}", f"t_spark_sharded_{suffix}"
    output = f"{uri}{'&' if '?' in uri else '?'}schema={sharded}"
    try:
        subprocess.run([BINARY, "run", *RUN_ARGS, "--key-env", KEY_VARIABLE, "--run-id", "single",
                        "--output", f"{uri}{'&' if '?' in uri else '?'}schema={single}"], check=True, stdout=subprocess.DEVNULL)
        marker_dir = tmp_path / "markers"
        marker_dir.mkdir()
        # Through Spark's executor environment: the Python workers of local mode inherit the
        # environment of the JVM, started once per test process (by the first test).
        conf = {"spark.ui.enabled": "false", f"spark.executorEnv.{harmonize_spark.FAIL_ONCE_VARIABLE}": f"1:{marker_dir}"}
        argv = ["--binary", BINARY, "--shards", "4", "--run-id", "spark-pg", "--output", output, "--key-env", KEY_VARIABLE,
                "--master", "local[2,2]", "--", *RUN_ARGS]
        assert harmonize_spark.main(argv, spark_conf=conf) == output
        # Shard 1's first attempt failed after its commit: the retry found it committed.
        assert (marker_dir / ".failed-once-1").exists()
        assert psql(uri, f"SELECT shard, of FROM {sharded}.harmonize_shard_ledger WHERE run_id = 'spark-pg' ORDER BY shard") == \
            [[str(i), "4"] for i in range(4)]
        assert pg_tables(uri, sharded) == pg_tables(uri, single)
        assert pg_totals(uri, sharded) == pg_totals(uri, single)
        published = psql(uri, f"SELECT run_id, published_at FROM {sharded}.harmonize_run")
        assert [r[0] for r in published] == ["spark-pg"]
        # A rerun of the run id changes nothing.
        harmonize_spark.main(argv, spark_conf=conf)
        assert psql(uri, f"SELECT run_id, published_at FROM {sharded}.harmonize_run") == published
        assert len(psql(uri, f"SELECT 1 FROM {sharded}.harmonize_shard_ledger")) == 4
    finally:
        psql(uri, f"DROP SCHEMA IF EXISTS {single} CASCADE; DROP SCHEMA IF EXISTS {sharded} CASCADE")
