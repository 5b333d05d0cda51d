#!/usr/bin/env python3
"""Harmonize claims benchmark: harmonize-run side by side with its peers, in one run.

Usage (from anywhere; paths are resolved from the repository root):

  python3 bench/run_bench.py [--sizes 1m,5m] [--repeat 3] [--no-build] [--skip-slow]
                             [--only NAME,...] [--data /tmp/bench-data/harmonize] [--work /tmp/bench-work]
  python3 bench/run_bench.py --check [--check-size 1m] [--no-build]
  python3 bench/run_bench.py --suite join [--sizes 1m,5m] [--spill-budget 128M] [...]   (join benchmark)
  python3 bench/run_bench.py --suite join --check [--check-size 1m] [--spill-budget 128M]

Every program is timed as a whole process with `/usr/bin/time -f '%e %M'` (wall seconds, peak
RSS), the median of --repeat runs (rounds interleave the programs), with the input read once into
the page cache before each run. Data sets are generated into DATA/<size> by bench/gen_claims.py
(seed 42) when missing. Results go to stdout and to bench/results/latest.md (git-ignored;
bench/results/join-latest.md for --suite join).
A program that is missing or fails is reported as such; the others still run.
See bench/README.md.
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SHARED_C = ROOT.parent / "shared" / "bench" / "map_sqlite.c"
C_BIN = BENCH / "bin" / "map_sqlite"
HZ_BIN = ROOT / ".build" / "release" / "harmonize-run"
MAPPING = BENCH / "claims" / "claims.yaml"
KEY_ENV = "HARMONIZE_BENCH_KEY"
KEY_VALUE = "harmonize-benchmark-key-0123456789-not-a-secret"   # fixed, >= 32 bytes
SEED = 42

# program ids (also accepted by --only), in table order
HZ, HZ_NONE, HZ_LIN = "harmonize", "harmonize-sink-none", "harmonize-lineage"
HZ_1T, HZ_NONE_1T = "harmonize-1t", "harmonize-sink-none-1t"   # --threads 1
HZ_2T, HZ_NONE_2T = "harmonize-2t", "harmonize-sink-none-2t"   # --threads 2 (default: auto, the cores less one with a sink)
HZ_BASE = "harmonize-baseline"   # another build of harmonize-run (--baseline-bin), for before/after figures
BASELINE_BIN = None
C_OFF, C_NOSTEP = "c-off", "c-nostep"
DUCK2, DUCK1 = "duckdb-2t", "duckdb-1t"
PY, IMPORT, CAT = "python", "sqlite-import", "cat"
ALL = [HZ, HZ_1T, HZ_2T, HZ_BASE, HZ_LIN, HZ_NONE, HZ_NONE_1T, HZ_NONE_2T, C_OFF, C_NOSTEP, DUCK2, DUCK1, PY, IMPORT, CAT]
LABEL = {
    HZ: "Harmonize → SQLite",
    HZ_LIN: "Harmonize → SQLite `--lineage`",
    HZ_NONE: "Harmonize `--sink none`",
    HZ_1T: "Harmonize → SQLite `--threads 1`",
    HZ_NONE_1T: "Harmonize `--sink none --threads 1`",
    HZ_2T: "Harmonize → SQLite `--threads 2`",
    HZ_NONE_2T: "Harmonize `--sink none --threads 2`",
    HZ_BASE: "Harmonize baseline build → SQLite (`--baseline-bin`)",
    C_OFF: "C `map_sqlite` (journal off)",
    C_NOSTEP: "C `map_sqlite nostep`",
    DUCK2: "DuckDB mapping → table, 2 threads",
    DUCK1: "DuckDB mapping → table, 1 thread",
    PY: "Python `csv` + `sqlite3`",
    IMPORT: "sqlite3 `.import` (raw text, no mapping)",
    CAT: "`cat` to /dev/null (read floor)",
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_size(s):
    s = s.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1:], 1)
    num = s[:-1] if s[-1:] in "km" else s
    return int(float(num) * mult)


def size_name(n):
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


# ------------------------------------------------------------------------------------- setup
def data_is_ours(d, n, names=("er_prs_f.csv", "vocab.csv")):
    """True when DIR holds the files `names` (by default er_prs_f.csv and vocab.csv) exactly as
    bench/gen_claims.py wrote them for n rows and seed SEED (its .gen_claims.json stamp records
    their sizes and mtimes)."""
    try:
        stamp = json.loads((d / ".gen_claims.json").read_text())
        if (stamp.get("generator") != "harmonize bench/gen_claims.py" or stamp.get("rows") != n
                or stamp.get("seed") != SEED or stamp.get("crlf")):
            return False
        for name in names:
            st = (d / name).stat()
            f = stamp["files"][name]
            if st.st_size != f["bytes"] or st.st_mtime_ns != f["mtime_ns"]:
                return False
        return True
    except (OSError, ValueError, KeyError, TypeError):
        return False


def ensure_data(data_root, n, names=("er_prs_f.csv", "vocab.csv")):
    d = Path(data_root) / size_name(n)
    if not data_is_ours(d, n, names):
        if (d / "er_prs_f.csv").exists():
            log(f"{d}: files missing, changed or not written by bench/gen_claims.py (seed {SEED}); regenerating")
        log(f"generating {size_name(n)} claims into {d} ...")
        subprocess.run([sys.executable, str(BENCH / "gen_claims.py"), "--rows", str(n), "--out", str(d),
                        "--seed", str(SEED)], check=True)
    return d


def warm(paths):
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 22):
                pass


def build_harmonize(notes):
    log("building harmonize-run (swift build -c release --static-swift-stdlib --product harmonize-run) ...")
    # The production build (README, "Building for production"): the Swift runtime and Foundation
    # linked in, so calls into the runtime are direct (bench/README, "twelfth part").
    r = subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", "harmonize-run"], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        tail = "\n".join(r.stdout.strip().splitlines()[-5:])
        notes.append(f"Harmonize: `swift build` failed (exit {r.returncode}); last lines:\n```\n{tail}\n```")
        return False
    return True


def build_c(notes):
    if not SHARED_C.exists():
        notes.append(f"C peer skipped: {SHARED_C} not found (it is optional: the shared "
                     "`map_sqlite.c` lives next to the repository, in ../shared/bench/).")
        return False
    if C_BIN.exists() and C_BIN.stat().st_mtime >= SHARED_C.stat().st_mtime:
        return True
    C_BIN.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["gcc", "-O2", "-o", str(C_BIN), str(SHARED_C), "-lsqlite3", "-lcrypto"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        notes.append("C peer skipped: build failed (`apt-get install -y gcc libsqlite3-dev libssl-dev`?):\n"
                     f"```\n{r.stdout.strip()[-800:]}\n```")
        return False
    return True


def have_duckdb(notes):
    probe = [sys.executable, "-c", "import duckdb"]
    if subprocess.run(probe, capture_output=True).returncode == 0:
        return True
    log("duckdb missing: pip install duckdb ...")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "duckdb"], capture_output=True)
    if subprocess.run(probe, capture_output=True).returncode == 0:
        return True
    notes.append("DuckDB peers skipped: the `duckdb` Python package is missing and `pip install duckdb` failed.")
    return False


# --------------------------------------------------------------------------------- programs
def commands(prog, data, out):
    """argv for one program; `out` is its output path (in a folder emptied before each run)."""
    claims, vocab = str(data / "er_prs_f.csv"), str(data / "vocab.csv")
    py = sys.executable
    hz = [str(HZ_BIN), "run", "--mappings", str(MAPPING), "--input", str(data), "--output", str(out),
          "--key-env", KEY_ENV, "--no-progress", "--no-quality"]
    base = [str(BASELINE_BIN or "missing-baseline")] + hz[1:]
    return {
        HZ: hz,
        HZ_BASE: base,
        HZ_LIN: hz + ["--lineage"],
        HZ_NONE: hz + ["--sink", "none"],
        HZ_1T: hz + ["--threads", "1"],
        HZ_NONE_1T: hz + ["--sink", "none", "--threads", "1"],
        HZ_2T: hz + ["--threads", "2"],
        HZ_NONE_2T: hz + ["--sink", "none", "--threads", "2"],
        C_OFF: [str(C_BIN), claims, vocab, str(out), "off"],
        C_NOSTEP: [str(C_BIN), claims, vocab, str(out), "nostep"],
        DUCK2: [py, str(BENCH / "peers" / "duckdb_map.py"), claims, vocab, str(out), "--threads", "2"],
        DUCK1: [py, str(BENCH / "peers" / "duckdb_map.py"), claims, vocab, str(out), "--threads", "1"],
        PY: [py, str(BENCH / "peers" / "py_map.py"), claims, vocab, str(out)],
        IMPORT: ["bash", str(BENCH / "peers" / "sqlite_import.sh"), claims, str(out)],
        CAT: ["sh", "-c", f"cat {shlex.quote(claims)} > /dev/null"],
    }[prog]


def out_name(prog):
    return {DUCK2: "out.duckdb", DUCK1: "out.duckdb"}.get(prog, "out.sqlite")


def timed(argv, workdir, env, stdout_path=None):
    """Runs argv; returns (ok, wall_s, peak_rss_kb, cpu_s, message). cpu_s = user + system time,
    less sensitive than wall time to other jobs on a shared machine. Standard output goes to
    `stdout_path` when given (say, a --json summary), else with standard error to WORKDIR/log.txt."""
    workdir.mkdir(parents=True, exist_ok=True)
    tfile = workdir / "time.txt"
    logf = workdir / "log.txt"
    if Path("/usr/bin/time").exists():
        full = ["/usr/bin/time", "-f", "%e %M %U %S", "-o", str(tfile)] + argv
        with open(logf, "w") as lf, open(stdout_path or os.devnull, "w") as of:
            out, err = (of, lf) if stdout_path else (lf, subprocess.STDOUT)
            rc = subprocess.run(full, stdout=out, stderr=err, env=env, cwd=workdir).returncode
        try:
            lines = tfile.read_text().strip().splitlines()
            wall, rss, user, system = lines[-1].split()
            wall, rss, cpu = float(wall), int(rss), float(user) + float(system)
        except (OSError, ValueError, IndexError):
            wall, rss, cpu = float("nan"), 0, float("nan")
    else:   # fallback: wait4's rusage (same peak RSS figure as GNU time)
        t0 = time.perf_counter()
        with open(logf, "w") as lf, open(stdout_path or os.devnull, "w") as of:
            out, err = (of, lf) if stdout_path else (lf, subprocess.STDOUT)
            p = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=workdir)
            _, status, ru = os.wait4(p.pid, 0)
        wall, rss, cpu = time.perf_counter() - t0, ru.ru_maxrss, ru.ru_utime + ru.ru_stime
        rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        tail = " | ".join(logf.read_text(errors="replace").strip().splitlines()[-3:])[-300:]
        return False, wall, rss, cpu, f"exit {rc}: {tail}"
    return True, wall, rss, cpu, ""


def clean(workdir):
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)


# ---------------------------------------------------------------------------------- report
def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}×"


def table_for(n, res, repeat):
    """res: prog -> dict(status, walls, rss, note, scaled)."""
    def wall(p):
        r = res.get(p)
        return r["wall"] if r and r["status"] == "ok" else None

    c, duck, py = wall(C_OFF), wall(DUCK2), wall(PY)
    lines = [f"### {size_name(n)} claim rows ({n:,})", "",
             f"Median of {repeat} runs; ratios are wall-time ratios (program ÷ reference, lower is faster).", "",
             "| program | wall s | rows/s | peak RSS MB | ÷ C off | ÷ DuckDB 2t | ÷ Python | CPU s | runs (wall s) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for p in ALL:
        r = res.get(p)
        if r is None:
            continue
        if r["status"] != "ok":
            lines.append(f"| {LABEL[p]} | {r['status']} | | | | | | | {r['note'][:120]} |")
            continue
        w = r["wall"]
        runs = ", ".join(f"{x:.2f}" for x in r["walls"])
        if r.get("scaled"):
            runs = r["scaled"]
        rate = f"{n / w / 1e6:.2f} M" if w > 0 else "–"
        lines.append(f"| {LABEL[p]} | {w:.2f} | {rate} | {r['rss'] / 1024:.1f} | "
                     f"{fmt_ratio(w, c)} | {fmt_ratio(w, duck)} | {fmt_ratio(w, py)} | {r['cpu']:.2f} | {runs} |")
    return lines


def targets_for(results, sizes):
    """Checks the README targets; returns Markdown lines."""
    lines = ["### Targets", "", "| size | target | measured | verdict |", "|---|---|---|---|"]

    def get(n, p):
        r = results[n].get(p)
        return r if r and r["status"] == "ok" else None

    def row(n, what, measured, ok):
        verdict = "n/a" if ok is None else ("PASS" if ok else "FAIL")
        lines.append(f"| {size_name(n)} | {what} | {measured} | {verdict} |")

    for n in sizes:
        hz, hzn, c, cn = get(n, HZ), get(n, HZ_NONE), get(n, C_OFF), get(n, C_NOSTEP)
        d2, py = get(n, DUCK2), get(n, PY)
        if hz and c:
            row(n, "Harmonize wall ≤ 0.85 × C (off)", f"{hz['wall'] / c['wall']:.2f}×", hz["wall"] <= 0.85 * c["wall"])
            # issue 13: the CPU time too (user + system, all threads), against the C program's
            row(n, "Harmonize CPU ≤ 1.5 × C (off) CPU", f"{hz['cpu'] / c['cpu']:.2f}×", hz["cpu"] <= 1.5 * c["cpu"])
        else:
            row(n, "Harmonize wall ≤ 0.85 × C (off)", "missing", None)
        if hz and d2:
            row(n, "Harmonize wall ≤ 1.5 × DuckDB 2 threads", f"{hz['wall'] / d2['wall']:.2f}×",
                hz["wall"] <= 1.5 * d2["wall"])
            row(n, "Harmonize peak RSS ≤ 1/10 DuckDB 2 threads", f"{hz['rss'] / d2['rss']:.3f}×",
                hz["rss"] <= d2["rss"] / 10)
        else:
            row(n, "Harmonize vs DuckDB 2 threads (wall ≤ 1.5×, RSS ≤ 1/10)", "missing", None)
        if hz and py:
            row(n, "Harmonize ≥ 25 × faster than Python", f"{py['wall'] / hz['wall']:.1f}×", py["wall"] >= 25 * hz["wall"])
        else:
            row(n, "Harmonize ≥ 25 × faster than Python", "missing", None)
        if hzn and cn:
            row(n, "`--sink none` wall ≤ 1.0 × C nostep", f"{hzn['wall'] / cn['wall']:.2f}×", hzn["wall"] <= cn["wall"])
        else:
            row(n, "`--sink none` wall ≤ 1.0 × C nostep", "missing", None)
        for p, r in ((HZ, hz), (HZ_NONE, hzn)):
            if r:
                row(n, f"{LABEL[p]} peak RSS < 64 MB", f"{r['rss'] / 1024:.1f} MB", r["rss"] < 64 * 1024)
            else:
                row(n, f"{LABEL[p]} peak RSS < 64 MB", "missing", None)
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        for p in (HZ, HZ_NONE):
            a, b = get(lo, p), get(hi, p)
            what = f"{LABEL[p]} RSS flat {size_name(lo)} → {size_name(hi)} (grows ≤ 20 % or ≤ 8 MB)"
            if a and b:
                grow = b["rss"] - a["rss"]
                row(hi, what, f"{a['rss'] / 1024:.1f} → {b['rss'] / 1024:.1f} MB",
                    grow <= max(0.2 * a["rss"], 8 * 1024))
            else:
                row(hi, what, "missing", None)
    return lines


def lineage_cost(results, sizes):
    """What `--lineage` (one harmonize_lineage row per output row) costs: Harmonize with and
    without it, side by side in the same rounds."""
    lines = ["### Cost of `--lineage`", "",
             "| size | wall s (plain → lineage) | wall ratio | CPU s (plain → lineage) | CPU ratio | DB MB (plain → lineage) | size ratio |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    any_row = False
    for n in sizes:
        a, b = results[n].get(HZ), results[n].get(HZ_LIN)
        if not (a and b and a["status"] == "ok" and b["status"] == "ok"):
            continue
        any_row = True
        sa, sb = a.get("size"), b.get("size")
        size_cells = (f"{sa / 1e6:.1f} → {sb / 1e6:.1f}", f"{sb / sa:.2f}×") if sa and sb else ("–", "–")
        lines.append(f"| {size_name(n)} | {a['wall']:.2f} → {b['wall']:.2f} | {b['wall'] / a['wall']:.2f}× | "
                     f"{a['cpu']:.2f} → {b['cpu']:.2f} | {b['cpu'] / a['cpu']:.2f}× | {size_cells[0]} | {size_cells[1]} |")
    return lines if any_row else []


def machine_header(args):
    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "?"
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import duckdb  # noqa: F401
        duck = duckdb.__version__
    except ImportError:
        duck = "not installed"
    commit = out(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    return [f"# Harmonize claims benchmark — {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC", "",
            f"* repository commit `{commit}`; host {platform.node()}, {os.cpu_count()} CPUs ({cpu}), "
            f"load average at start {os.getloadavg()[0]:.2f}",
            f"* sqlite3 {out(['sqlite3', '--version']).split(' ')[0]}, Python {platform.python_version()}, "
            f"DuckDB {duck}, {out(['gcc', '--version'])}",
            f"* `{' '.join(shlex.quote(a) for a in sys.argv)}`", ""]


# ----------------------------------------------------------------------------------- bench
def run_bench(args):
    sizes = sorted(parse_size(s) for s in args.sizes.split(","))
    wanted = [p for p in ALL if not args.only or p in args.only.split(",")]
    notes = []
    env = dict(os.environ, **{KEY_ENV: KEY_VALUE})
    header = machine_header(args)

    available = set(wanted)
    if available & {HZ, HZ_NONE, HZ_LIN, HZ_1T, HZ_NONE_1T, HZ_2T, HZ_NONE_2T}:
        built = True
        if not args.no_build:
            built = build_harmonize(notes)
        if not HZ_BIN.exists():
            notes.append(f"Harmonize: binary {HZ_BIN.relative_to(ROOT)} missing" +
                         ("" if built else " (build failed)") + "; reported as failed.")
    if (C_OFF in available or C_NOSTEP in available) and not build_c(notes):
        available -= {C_OFF, C_NOSTEP}
    if (DUCK2 in available or DUCK1 in available) and not have_duckdb(notes):
        available -= {DUCK2, DUCK1}
    if HZ_BASE in available and not (BASELINE_BIN and Path(BASELINE_BIN).exists()):
        available -= {HZ_BASE}
        notes.append("Harmonize baseline skipped: give another build with --baseline-bin PATH.")
    elif HZ_BASE in available:
        notes.append(f"Harmonize baseline: {BASELINE_BIN} (same mapping, flags and data as `harmonize`).")

    # Python at sizes above 1M: measured at 1M only and scaled, with --skip-slow
    py_sizes = set(sizes)
    one_m = 1_000_000
    if args.skip_slow and PY in available:
        py_sizes = {n for n in sizes if n <= one_m}
        if any(n > one_m for n in sizes):
            py_sizes.add(one_m)
    all_sizes = sorted(set(sizes) | py_sizes)

    results = {}
    for n in all_sizes:
        data = ensure_data(args.data, n)
        progs = [p for p in wanted if n in sizes or p == PY]
        progs = [p for p in progs if p != PY or n in py_sizes]
        res = {p: {"status": "ok", "walls": [], "rsss": [], "cpus": [], "note": ""} for p in progs}
        for p in progs:
            if p not in available:
                res[p]["status"] = "skipped"
                res[p]["note"] = "see notes"
            elif p in (HZ, HZ_NONE, HZ_LIN, HZ_1T, HZ_NONE_1T, HZ_2T, HZ_NONE_2T) and not HZ_BIN.exists():
                res[p]["status"] = "failed"
                res[p]["note"] = "binary missing"
        for rnd in range(args.repeat):
            for p in progs:
                r = res[p]
                if r["status"] != "ok":
                    continue
                work = Path(args.work) / size_name(n) / p
                clean(work)
                warm([data / "er_prs_f.csv", data / "vocab.csv"])
                argv = commands(p, data, work / out_name(p))
                log(f"[{size_name(n)} round {rnd + 1}/{args.repeat}] {p}: {' '.join(argv[:2])} ...")
                ok, wall, rss, cpu, msg = timed(argv, work, env)
                if not ok:
                    r["status"], r["note"] = "failed", msg
                    log(f"    failed: {msg}")
                    continue
                r["walls"].append(wall)
                r["rsss"].append(rss)
                out_file = work / out_name(p)
                if out_file.is_file():
                    r.setdefault("sizes", []).append(out_file.stat().st_size)
                r["cpus"].append(cpu)
                log(f"    {wall:.2f} s wall, {cpu:.2f} s CPU, {rss / 1024:.1f} MB")
        for p, r in res.items():
            if r["status"] == "ok":
                r["wall"] = statistics.median(r["walls"])
                r["rss"] = statistics.median(r["rsss"])
                r["cpu"] = statistics.median(r["cpus"])
                if r.get("sizes"):
                    r["size"] = statistics.median(r["sizes"])
        results[n] = res
        if not args.keep_outputs:
            shutil.rmtree(Path(args.work) / size_name(n), ignore_errors=True)

    # scale the Python figures for sizes it skipped
    if args.skip_slow and PY in wanted:
        base = results.get(one_m, {}).get(PY)
        for n in sizes:
            if n not in py_sizes and base and base["status"] == "ok":
                results[n][PY] = dict(base, wall=base["wall"] * n / one_m, cpu=base["cpu"] * n / one_m,
                                      scaled=f"scaled ×{n / one_m:g} from 1m (--skip-slow)")
    out = header
    for n in sizes:
        out += table_for(n, results[n], args.repeat) + [""]
    out += targets_for(results, sizes) + [""]
    out += lineage_cost(results, sizes) + [""]
    if notes:
        out += ["### Notes", ""] + [f"* {x}" for x in notes] + [""]
    load_end = os.getloadavg()[0]
    out += [f"Load average at the end: {load_end:.2f} (on a shared machine, compare ratios from one run only).", ""]
    text = "\n".join(out)
    print(text)
    res_dir = BENCH / "results"
    res_dir.mkdir(exist_ok=True)
    (res_dir / "latest.md").write_text(text)
    log(f"written {res_dir / 'latest.md'}")
    return 0


# ----------------------------------------------------------------------------------- check
CHECK_COLS = [  # (column, kind) — every column of claim_mapped but person_hash
    ("ben_rng_gem", "int"), ("exe_soi_dtd", "date"), ("exe_soi_dtf", "date"), ("prs_nat_ref", "int"),
    ("concept_id", "int"), ("prs_act_qte", "int"), ("prs_pai_mnt", "real"), ("pse_spe_cod", "int"),
    ("etb_pre_fin", "text"), ("flx_dis_dtd", "date"), ("flx_trt_dtd", "date"), ("flx_emt_typ", "int"),
    ("flx_emt_num", "int"), ("flx_emt_ord", "int"), ("org_cle_num", "text"), ("dct_ord_num", "int"),
    ("prs_ord_num", "int"), ("rem_typ_aff", "int"),
]


def norm(col, kind):
    iso = f"CASE WHEN typeof({col}) = 'text' AND length({col}) = 10 THEN {col} ELSE date({col}) END"
    return {"int": f"CAST({col} AS INTEGER)", "real": f"round({col}, 2)", "date": iso,
            "text": f"CAST({col} AS TEXT)"}[kind] + f" AS {col}"


def compare(candidate, reference, table="claim_mapped", cols=CHECK_COLS):
    """Multiset comparison of `table` (claim_mapped) in two SQLite files over `cols` (all columns
    but person_hash), with the columns normalised in SQL and the rows counted in Python (linear
    time; ~1 GB at 1M rows). Returns ((distinct, rows) only in candidate, (distinct, rows) only in
    reference, samples, counts)."""
    from collections import Counter
    sel = ", ".join(norm(c, k) for c, k in cols)
    bags, counts = [], []
    for path in (candidate, reference):
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        bags.append(Counter(con.execute(f"SELECT {sel} FROM {table}")))
        counts.append(con.execute(f"SELECT count(*), count(DISTINCT person_hash) FROM {table}").fetchone())
        con.close()
    only_a, only_b = bags[0] - bags[1], bags[1] - bags[0]
    samples = [("a", r) for r in list(only_a)[:3]] + [("b", r) for r in list(only_b)[:3]]
    return ((len(only_a), sum(only_a.values())), (len(only_b), sum(only_b.values())), samples, counts)


def run_check(args):
    n = parse_size(args.check_size)
    data = ensure_data(args.data, n)
    env = dict(os.environ, **{KEY_ENV: KEY_VALUE})
    notes = []
    work = Path(args.work) / f"check-{size_name(n)}"
    target = args.check_target
    if target == "harmonize":
        if not args.no_build:
            build_harmonize(notes)
        prog = HZ
        if not HZ_BIN.exists():
            print(f"check: Harmonize binary {HZ_BIN} missing — failed")
            for x in notes:
                print(x)
            return 2
    else:
        prog = C_OFF
        if not build_c(notes):
            print("\n".join(notes))
            return 2
    outs = {}
    for p in (prog, PY):
        w = work / p
        clean(w)
        warm([data / "er_prs_f.csv", data / "vocab.csv"])
        outs[p] = w / "out.sqlite"
        log(f"check: running {p} on {size_name(n)} ...")
        ok, wall, rss, _, msg = timed(commands(p, data, outs[p]), w, env)
        if not ok:
            print(f"check: {LABEL[p]} failed: {msg}")
            return 2
        log(f"    {wall:.2f} s, {rss / 1024:.1f} MB")
    (ga, ra), (gb, rb), samples, counts = compare(outs[prog], outs[PY])
    print(f"check on {size_name(n)}: {LABEL[prog]} vs {LABEL[PY]} (all columns but person_hash, as multisets)")
    print(f"  rows: {counts[0][0]:,} vs {counts[1][0]:,}; distinct person_hash: {counts[0][1]:,} vs {counts[1][1]:,}")
    print(f"  rows of {prog} not matched one-to-one by {PY} rows: {ra:,} (in {ga:,} distinct row values)")
    print(f"  rows of {PY} not matched one-to-one by {prog} rows: {rb:,} (in {gb:,} distinct row values)")
    for side, r in samples:
        print(f"  only in {prog if side == 'a' else PY}: {r}")
    differences = ra + rb + (counts[0][1] != counts[1][1])
    print(f"differences: {differences}")
    if not args.keep_outputs:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if differences == 0 else 1


# ------------------------------------------------------------------------------ join suite
# `--suite join`: er_pha_f.csv (driving, ~40 % of the claim count) joined to er_prs_f.csv on the
# nine DCIR keys into pha_mapped (bench/claims/pha.yaml, bench/peers/*_pha_join.py).
PHA_MAPPING = BENCH / "claims" / "pha.yaml"
JOIN_FILES = ("er_prs_f.csv", "er_pha_f.csv")
DEFAULT_BUDGET = "256M"   # `harmonize-run run --memory-budget` default (Sources/harmonize-run/RunCommand.swift)
J_HZ, J_HZ_SPILL, J_HZ_BASE, J_HZ_2T = "harmonize", "harmonize-spill", "harmonize-baseline", "harmonize-2t"
J_HZ_LARGE = "harmonize-large"   # --memory-budget --large-budget (asked for by name)
J_DUCK2, J_DUCK1, J_PY = "duckdb-2t", "duckdb-1t", "python"
JOIN_ALL = [J_HZ, J_HZ_2T, J_HZ_LARGE, J_HZ_BASE, J_HZ_SPILL, J_DUCK2, J_DUCK1, J_PY]
JOIN_HZ = (J_HZ, J_HZ_2T, J_HZ_LARGE, J_HZ_BASE, J_HZ_SPILL)
JOIN_CHECK_COLS = [  # every column of pha_mapped but person_hash
    ("ben_rng_gem", "int"), ("drug_exposure_start_date", "date"), ("cip13", "text"), ("quantity", "int"),
    ("unit_price", "real"), ("flx_dis_dtd", "date"), ("flx_trt_dtd", "date"), ("flx_emt_typ", "int"),
    ("flx_emt_num", "int"), ("flx_emt_ord", "int"), ("org_cle_num", "text"), ("dct_ord_num", "int"),
    ("prs_ord_num", "int"), ("rem_typ_aff", "int"),
]


def budget_bytes(text):
    """`--memory-budget` syntax: bytes, or with K, M, G (binary units), as harmonize-run parses it."""
    t = text.strip().upper()
    unit = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:], 1)
    return int(t[:-1] if t[-1:] in "KMG" else t) * unit


def join_label(p, args):
    return {
        J_HZ: f"Harmonize → SQLite, budget {DEFAULT_BUDGET} (default)",
        J_HZ_SPILL: f"Harmonize → SQLite, `--memory-budget {args.spill_budget}`",
        J_HZ_BASE: f"Harmonize baseline build (`--baseline-bin`) → SQLite, budget {DEFAULT_BUDGET}",
        J_HZ_2T: f"Harmonize → SQLite, budget {DEFAULT_BUDGET}, `--threads 2`",
        J_HZ_LARGE: f"Harmonize → SQLite, `--memory-budget {args.large_budget}`",
        J_DUCK2: "DuckDB join → table, 2 threads",
        J_DUCK1: "DuckDB join → table, 1 thread",
        J_PY: "Python `csv` + dict + `sqlite3`",
    }[p]


def join_budget(p, args):
    return {J_HZ: DEFAULT_BUDGET, J_HZ_2T: DEFAULT_BUDGET, J_HZ_BASE: DEFAULT_BUDGET, J_HZ_SPILL: args.spill_budget,
            J_HZ_LARGE: args.large_budget}.get(p)


def join_commands(prog, data, out, args):
    """argv for one program of the join suite; `out` is its output path."""
    prs, pha = str(data / "er_prs_f.csv"), str(data / "er_pha_f.csv")
    py = sys.executable
    hz = [str(HZ_BIN), "run", "--mappings", str(PHA_MAPPING), "--input", str(data), "--output", str(out),
          "--key-env", KEY_ENV, "--no-progress", "--no-quality", "--json"]
    return {
        J_HZ: hz,
        J_HZ_SPILL: hz + ["--memory-budget", args.spill_budget],
        J_HZ_BASE: [str(BASELINE_BIN or "missing-baseline")] + hz[1:],
        J_HZ_2T: hz + ["--threads", "2"],
        J_HZ_LARGE: hz + ["--memory-budget", args.large_budget],
        J_DUCK2: [py, str(BENCH / "peers" / "duckdb_pha_join.py"), prs, pha, str(out), "--threads", "2"],
        J_DUCK1: [py, str(BENCH / "peers" / "duckdb_pha_join.py"), prs, pha, str(out), "--threads", "1"],
        J_PY: [py, str(BENCH / "peers" / "py_pha_join.py"), prs, pha, str(out)],
    }[prog]


def data_rows(path):
    """Lines of a generated CSV file but its header (no field holds a line break)."""
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 22)
            if not b:
                break
            n += b.count(b"\n")
    return max(0, n - 1)


def join_stats(summary_path):
    """From harmonize-run's --json summary: the join's statistics (spilled, matched, missing …) and
    the rows written to pha_mapped; None when unreadable."""
    try:
        s = json.loads(Path(summary_path).read_text())
        m = s.get("manifest", s)
        j = dict(m["joins"][0])
        j["written"] = sum(t.get("rows", 0) for t in m.get("tables", []) if t.get("table") == "pha_mapped")
        j["rejected_records"] = s.get("records_rejected")
        return j
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None


def join_table(n, counts, res, args):
    drive = counts["pha"]

    def wall(p):
        r = res.get(p)
        return r["wall"] if r and r["status"] == "ok" else None

    duck, py = wall(J_DUCK2), wall(J_PY)
    lines = [f"### {size_name(n)}: {drive:,} pharmacy lines (driving) joined to {counts['prs']:,} claim lines", "",
             f"Median of {args.repeat} runs; rows/s = driving (pharmacy) lines ÷ wall s; ratios are wall-time "
             "ratios (program ÷ reference, lower is faster); budget = `--memory-budget` (Harmonize only).", "",
             "| program | wall s | rows/s | peak RSS MB | budget | RSS < budget | index spilled | rows written "
             "| ÷ DuckDB 2t | ÷ Python | CPU s | runs (wall s) |",
             "|---|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---|"]
    for p in JOIN_ALL:
        r = res.get(p)
        if r is None:
            continue
        if r["status"] != "ok":
            lines.append(f"| {join_label(p, args)} | {r['status']} | | | | | | | | | | {r['note'][:120]} |")
            continue
        w = r["wall"]
        runs = r.get("scaled") or ", ".join(f"{x:.2f}" for x in r["walls"])
        rate = f"{drive / w:,.0f}" if w > 0 else "–"
        budget, under, spilled = "–", "–", "–"
        written = "–" if r.get("written") is None else r["written"]
        if p in JOIN_HZ:
            b = budget_bytes(join_budget(p, args))
            budget = f"{b / (1 << 20):g} MiB"
            under = "yes" if r["rss"] * 1024 < b else "**no**"
            st = r.get("join")
            spilled = ("yes" if st["spilled"] else "no") if st else "?"
            written = st["written"] if st else "?"
        if isinstance(written, int):
            written = f"{written:,}"
        rss = f"{r['rss'] / 1024:.1f}" + (" (at 1m)" if r.get("scaled") else "")
        lines.append(f"| {join_label(p, args)} | {w:.2f} | {rate} | {rss} | {budget} | {under} | {spilled} | "
                     f"{written} | {fmt_ratio(w, duck)} | {fmt_ratio(w, py)} | {r['cpu']:.2f} | {runs} |")
    return lines


def join_verdicts(results, sizes, counts, args):
    def num(v):
        return f"{v:,}" if isinstance(v, int) else "?"

    lines = ["### Memory budget and join statistics (Harmonize)", "",
             "| size | program | peak RSS MB | budget MiB | RSS < budget | index spilled | keys indexed "
             "| matched | missing | ambiguous keys | rows written = driving lines |",
             "|---|---|---:|---:|---|---|---:|---:|---:|---:|---|"]
    for n in sizes:
        for p in JOIN_HZ:
            r = results[n].get(p)
            if r is None:
                continue
            if r["status"] != "ok":
                lines.append(f"| {size_name(n)} | {join_label(p, args)} | {r['status']} | | n/a | | | | | | n/a |")
                continue
            b = budget_bytes(join_budget(p, args))
            st = r.get("join") or {}
            ok = r["rss"] * 1024 < b
            written = st.get("written")
            same = "?" if written is None else ("PASS" if written == counts[n]["pha"] else "FAIL")
            lines.append(f"| {size_name(n)} | {join_label(p, args)} | {r['rss'] / 1024:.1f} | {b / (1 << 20):g} | "
                         f"{'PASS' if ok else 'FAIL'} | {('yes' if st['spilled'] else 'no') if st else '?'} | "
                         f"{num(st.get('indexed'))} | {num(st.get('matched'))} | {num(st.get('missing'))} | "
                         f"{num(st.get('ambiguousKeys'))} | {same} |")
    lines += ["", "Peak RSS is the whole process (reader, mapping, SQLite writer and the join index); "
              "`--memory-budget` is the run's budget: the engine keeps 96 MiB (at most 3/4 of it) "
              "and the join index gets the rest, moving the rows past it to an on-disk hash table."]
    return lines


def join_targets(results, sizes, args):
    """Issue 13's join target, per size: Harmonize (default budget; with the default threads, and
    with `--threads 2` or `--memory-budget --large-budget` when they ran) at most 1.5x the wall
    time of DuckDB with 2 threads, with at most a quarter of its peak RSS. Markdown lines."""
    lines = ["### Targets (issue 13)", "", "| size | target | measured | verdict |", "|---|---|---|---|"]
    for n in sizes:
        d2 = results[n].get(J_DUCK2)
        for p, how in ((J_HZ, ""), (J_HZ_2T, " (`--threads 2`)"), (J_HZ_LARGE, f" (`--memory-budget {args.large_budget}`)")):
            hz = results[n].get(p)
            if p in (J_HZ_2T, J_HZ_LARGE) and hz is None:
                continue
            if not (hz and d2 and hz["status"] == "ok" and d2["status"] == "ok"):
                lines.append(f"| {size_name(n)} | wall ≤ 1.5 × DuckDB 2 threads at ≤ 1/4 its peak RSS{how} | missing | n/a |")
                continue
            wall, rss = hz["wall"] / d2["wall"], hz["rss"] / d2["rss"]
            lines.append(f"| {size_name(n)} | wall ≤ 1.5 × DuckDB 2 threads{how} | {wall:.2f}× | {'PASS' if wall <= 1.5 else 'FAIL'} |")
            lines.append(f"| {size_name(n)} | peak RSS ≤ 1/4 of DuckDB 2 threads'{how} | {rss:.3f}× "
                         f"({hz['rss'] / 1024:.1f} / {d2['rss'] / 1024:.1f} MB) | {'PASS' if rss <= 0.25 else 'FAIL'} |")
    for n in sizes:
        hz, base = results[n].get(J_HZ), results[n].get(J_HZ_BASE)
        if hz and base and hz["status"] == "ok" and base["status"] == "ok":
            lines.append(f"| {size_name(n)} | (this build ÷ the baseline build: wall, CPU, peak RSS) | "
                         f"{hz['wall'] / base['wall']:.2f}×, {hz['cpu'] / base['cpu']:.2f}×, {hz['rss'] / base['rss']:.2f}× | – |")
    return lines


def run_join_bench(args):
    sizes = sorted(parse_size(s) for s in args.sizes.split(","))
    wanted = [p for p in JOIN_ALL if not args.only or p in args.only.split(",")]
    if not args.only:
        wanted.remove(J_HZ_2T)  # asked for by name
        wanted.remove(J_HZ_LARGE)
        if not BASELINE_BIN:
            wanted.remove(J_HZ_BASE)  # runs by default only when another build is given
    notes = []
    env = dict(os.environ, **{KEY_ENV: KEY_VALUE})
    header = machine_header(args)
    header[0] = header[0].replace("claims benchmark", "join benchmark (`--suite join`)")

    available = set(wanted)
    if available & set(JOIN_HZ):
        built = True
        if not args.no_build:
            built = build_harmonize(notes)
        if not HZ_BIN.exists():
            notes.append(f"Harmonize: binary {HZ_BIN.relative_to(ROOT)} missing" +
                         ("" if built else " (build failed)") + "; reported as failed.")
    if (J_DUCK2 in available or J_DUCK1 in available) and not have_duckdb(notes):
        available -= {J_DUCK2, J_DUCK1}
    if J_HZ_BASE in available:
        if BASELINE_BIN and Path(BASELINE_BIN).exists():
            notes.append(f"Harmonize baseline: {BASELINE_BIN} (same mapping, flags and data as `harmonize`).")
        else:
            available.discard(J_HZ_BASE)
            notes.append("Harmonize baseline skipped: give another build with --baseline-bin PATH.")

    py_sizes = set(sizes)
    one_m = 1_000_000
    if args.skip_slow and J_PY in available:
        py_sizes = {n for n in sizes if n <= one_m}
        if any(n > one_m for n in sizes):
            py_sizes.add(one_m)
    all_sizes = sorted(set(sizes) | py_sizes)

    results, counts = {}, {}
    for n in all_sizes:
        data = ensure_data(args.data, n, JOIN_FILES + ("vocab.csv",))
        counts[n] = {"prs": data_rows(data / "er_prs_f.csv"), "pha": data_rows(data / "er_pha_f.csv")}
        progs = [p for p in wanted if n in sizes or p == J_PY]
        progs = [p for p in progs if p != J_PY or n in py_sizes]
        res = {p: {"status": "ok", "walls": [], "rsss": [], "cpus": [], "joins": [], "writtens": [], "note": ""}
               for p in progs}
        for p in progs:
            if p not in available:
                res[p]["status"], res[p]["note"] = "skipped", "see notes"
            elif p in JOIN_HZ and not HZ_BIN.exists():
                res[p]["status"], res[p]["note"] = "failed", "binary missing"
        for rnd in range(args.repeat):
            for p in progs:
                r = res[p]
                if r["status"] != "ok":
                    continue
                work = Path(args.work) / f"join-{size_name(n)}" / p
                clean(work)
                warm([data / f for f in JOIN_FILES])
                out = work / ("out.duckdb" if p in (J_DUCK2, J_DUCK1) else "out.sqlite")
                argv = join_commands(p, data, out, args)
                summary = work / "summary.json" if p in JOIN_HZ else None
                log(f"[join {size_name(n)} round {rnd + 1}/{args.repeat}] {p}: {' '.join(argv[:2])} ...")
                ok, wall, rss, cpu, msg = timed(argv, work, env, stdout_path=summary)
                if not ok:
                    r["status"], r["note"] = "failed", msg
                    log(f"    failed: {msg}")
                    continue
                r["walls"].append(wall)
                r["rsss"].append(rss)
                r["cpus"].append(cpu)
                if summary:
                    st = join_stats(summary)
                    r["joins"].append(st)
                    if st is None:
                        notes.append(f"{p} at {size_name(n)}: the --json summary could not be read ({summary}).")
                else:
                    first = (work / "log.txt").read_text(errors="replace").split(" ", 1)[0]
                    if first.isdigit():
                        r["writtens"].append(int(first))
                log(f"    {wall:.2f} s wall, {cpu:.2f} s CPU, {rss / 1024:.1f} MB"
                    + (f", spilled: {r['joins'][-1]['spilled']}" if summary and r["joins"][-1] else ""))
        for p, r in res.items():
            if r["status"] == "ok":
                r["wall"] = statistics.median(r["walls"])
                r["rss"] = statistics.median(r["rsss"])
                r["cpu"] = statistics.median(r["cpus"])
                r["join"] = r["joins"][-1] if r["joins"] else None
                if r["writtens"]:
                    r["written"] = r["writtens"][-1]
                spills = {j["spilled"] for j in r["joins"] if j}
                if len(spills) > 1:
                    notes.append(f"{p} at {size_name(n)}: the index spilled in some runs only.")
                if p in JOIN_HZ and max(r["rsss"]) * 1024 >= budget_bytes(join_budget(p, args)) > r["rss"] * 1024:
                    notes.append(f"{p} at {size_name(n)}: median peak RSS under the budget, but not in every run "
                                 f"(max {max(r['rsss']) / 1024:.1f} MB).")
        results[n] = res
        if not args.keep_outputs:
            shutil.rmtree(Path(args.work) / f"join-{size_name(n)}", ignore_errors=True)

    if args.skip_slow and J_PY in wanted:
        base = results.get(one_m, {}).get(J_PY)
        for n in sizes:
            if n not in py_sizes and base and base["status"] == "ok":
                f = counts[n]["pha"] / counts[one_m]["pha"]
                results[n][J_PY] = dict(base, wall=base["wall"] * f, cpu=base["cpu"] * f, written=None,
                                        scaled=f"scaled ×{f:.2f} from 1m (--skip-slow)")
    out = header + [f"* Harmonize mapping `bench/claims/pha.yaml`; the budget variant runs with "
                    f"`--memory-budget {args.spill_budget}`", ""]
    for n in sizes:
        out += join_table(n, counts[n], results[n], args) + [""]
    if any(p in wanted for p in JOIN_HZ):
        out += join_verdicts(results, sizes, counts, args) + [""]
        out += join_targets(results, sizes, args) + [""]
    if notes:
        out += ["### Notes", ""] + [f"* {x}" for x in notes] + [""]
    out += [f"Load average at the end: {os.getloadavg()[0]:.2f} (on a shared machine, compare ratios from one run only).", ""]
    text = "\n".join(out)
    print(text)
    res_dir = BENCH / "results"
    res_dir.mkdir(exist_ok=True)
    (res_dir / "join-latest.md").write_text(text)
    log(f"written {res_dir / 'join-latest.md'}")
    return 0


def run_join_check(args):
    """Harmonize's pha_mapped (default budget, then `--memory-budget SPILL`) vs the Python peer's."""
    n = parse_size(args.check_size)
    data = ensure_data(args.data, n, JOIN_FILES + ("vocab.csv",))
    env = dict(os.environ, **{KEY_ENV: KEY_VALUE})
    notes = []
    work = Path(args.work) / f"check-join-{size_name(n)}"
    if not args.no_build:
        build_harmonize(notes)
    if not HZ_BIN.exists():
        print(f"check: Harmonize binary {HZ_BIN} missing — failed")
        for x in notes:
            print(x)
        return 2
    outs, stats = {}, {}
    for p in (J_PY, J_HZ, J_HZ_SPILL):
        w = work / p
        clean(w)
        warm([data / f for f in JOIN_FILES])
        outs[p] = w / "out.sqlite"
        summary = w / "summary.json" if p in JOIN_HZ else None
        log(f"check: running {p} on {size_name(n)} ...")
        ok, wall, rss, _, msg = timed(join_commands(p, data, outs[p], args), w, env, stdout_path=summary)
        if not ok:
            print(f"check: {join_label(p, args)} failed: {msg}")
            return 2
        if summary:
            stats[p] = join_stats(summary)
        log(f"    {wall:.2f} s, {rss / 1024:.1f} MB")
    drive = data_rows(data / "er_pha_f.csv")
    print(f"check on {size_name(n)} ({drive:,} pharmacy lines): pha_mapped, Harmonize vs the Python "
          "peer (py_pha_join.py), all columns but person_hash, as multisets")
    differences = 0
    for p in (J_HZ, J_HZ_SPILL):
        (ga, ra), (gb, rb), samples, counts = compare(outs[p], outs[J_PY], "pha_mapped", JOIN_CHECK_COLS)
        st = stats.get(p)
        print(f"- {join_label(p, args)}: "
              + (f"index spilled: {'yes' if st['spilled'] else 'no'}, {st['indexed']:,} keys indexed, "
                 f"{st['matched']:,} matched, {st['missing']:,} missing, {st['ambiguousKeys']:,} ambiguous keys"
                 if st else "join statistics unreadable"))
        print(f"  rows: {counts[0][0]:,} vs {counts[1][0]:,}; distinct person_hash: {counts[0][1]:,} vs {counts[1][1]:,}")
        print(f"  rows of {p} not matched one-to-one by python rows: {ra:,} (in {ga:,} distinct row values)")
        print(f"  rows of python not matched one-to-one by {p} rows: {rb:,} (in {gb:,} distinct row values)")
        for side, r in samples:
            print(f"  only in {p if side == 'a' else 'python'}: {r}")
        differences += ra + rb + (counts[0][1] != counts[1][1])
    print(f"differences: {differences}")
    if not args.keep_outputs:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if differences == 0 else 1


# --suite postgresql: the claims benchmark into PostgreSQL (issue 14) against the peer, psql's
# `\copy` of the same rows from a CSV file into a table of the same definition, keys built the
# same way; sharded runs (`run --shard i/N` then `publish`) when the binary has `publish`.
# --suite postgresql-clients: COPY text vs binary (libpq, bench/peers/pg_copy.c) and libpq vs
# PostgresNIO (bench/peers/postgresnio-copy) on the same rows.
PG_COPY_C = BENCH / "peers" / "pg_copy.c"
PG_COPY_BIN = BENCH / "bin" / "pg_copy"
NIO_PKG = BENCH / "peers" / "postgresnio-copy"
NIO_SCRATCH = Path("/tmp/harmonize-postgresnio-copy-build")
NIO_BIN = NIO_SCRATCH / "release" / "postgresnio-copy"
PG_PHASES = ["load", "keys", "constraints", "indices", "analyze", "publish"]
PG_PHASE_LABEL = {"load": "mapping + COPY (open → last COPY)", "keys": "primary keys", "constraints": "foreign keys (NOT VALID)",
                  "indices": "indices", "analyze": "ANALYZE", "publish": "publication transaction"}


def pg_server(args, notes):
    """The server URI: --postgres, else HARMONIZE_TEST_POSTGRES, else a throwaway server started
    with Scripts/pg_throwaway.sh (stopped by the caller). Returns (uri, throwaway_dir)."""
    uri = args.postgres or os.environ.get("HARMONIZE_TEST_POSTGRES")
    if uri:
        notes.append("PostgreSQL: the server of " + ("--postgres" if args.postgres else "HARMONIZE_TEST_POSTGRES") + ".")
        return uri, None
    r = subprocess.run(["bash", str(ROOT / "Scripts" / "pg_throwaway.sh"), "start"], stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit("no PostgreSQL server: give --postgres URI or install postgresql-15")
    env = dict(line.removeprefix("export ").split("=", 1) for line in r.stdout.strip().splitlines())
    notes.append("PostgreSQL: a throwaway server from Scripts/pg_throwaway.sh (fsync off, synchronous_commit off, "
                 "full_page_writes off, loopback TCP).")
    return env["HARMONIZE_TEST_POSTGRES"].strip("'"), env["PG_THROWAWAY_DIR"].strip("'")


def psql(uri, sql, *extra):
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", uri, "-c", sql, *extra],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise SystemExit(f"psql failed: {r.stdout.strip()[-300:]}")
    return r.stdout


def psql_value(uri, sql):
    return psql(uri, sql, "-t", "-A").strip()


def with_schema(uri, schema):
    return uri + ("&" if "?" in uri else "?") + "schema=" + schema


def server_version(uri):
    try:
        return psql_value(uri, "SHOW server_version")
    except SystemExit:
        return "?"


def peer_csv(data, n, work, env, notes):
    """The rows the peer loads: Harmonize's own claim_mapped rows written once by `--sink csv`
    (RFC 4180, header, empty field = NULL: what `\\copy … CSV HEADER` reads)."""
    out = work / "csv"
    shutil.rmtree(out, ignore_errors=True)
    argv = [str(HZ_BIN), "run", "--mappings", str(MAPPING), "--input", str(data), "--output", str(out), "--sink", "csv",
            "--key-env", KEY_ENV, "--no-progress", "--no-quality"]
    log(f"{size_name(n)}: the peer's CSV (harmonize-run --sink csv) ...")
    ok, wall, _, _, msg = timed(argv, work / "csv-log", env)
    if not ok:
        raise SystemExit(f"harmonize-run --sink csv failed: {msg}")
    notes.append(f"{size_name(n)}: the peer's CSV file was written once by `harmonize-run run --sink csv` "
                 f"({(out / 'claim_mapped.csv').stat().st_size / 1e6:.0f} MB, {wall:.1f} s, not timed in the comparison).")
    return out / "claim_mapped.csv"


def key_statements(uri, src_schema, dst_schema, table):
    """The keys, constraints and indices Harmonize built on SRC.TABLE (read back from the
    catalogue), rewritten for DST.TABLE in Harmonize's order (primary key, foreign keys between
    tables of DST, other indices), then ANALYZE."""
    rel = f"{src_schema}.{table}"
    cons = psql(uri, f"SELECT contype::text || '|' || conname || '|' || pg_get_constraintdef(oid) FROM pg_constraint "
                     f"WHERE conrelid = '{rel}'::regclass ORDER BY contype DESC, conname", "-t", "-A").strip().splitlines()
    idx = psql(uri, f"SELECT indexdef FROM pg_indexes i WHERE schemaname = '{src_schema}' AND tablename = '{table}' "
                    f"AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = "
                    f"(quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass) ORDER BY indexname",
               "-t", "-A").strip().splitlines()
    out = []
    for line in cons:
        kind, name, definition = line.split("|", 2)
        if kind == "f":
            definition = definition.replace(f"{src_schema}.", f"{dst_schema}.")
        out.append(f"ALTER TABLE {dst_schema}.{table} ADD CONSTRAINT {name} {definition};")
    for d in idx:
        out.append(d.replace(f" ON {src_schema}.", f" ON {dst_schema}.") + ";")
    out.append(f"ANALYZE {dst_schema}.{table};")
    return out


def has_publish(notes):
    # An unknown subcommand's --help prints the top-level help and exits 0: look for its usage line.
    r = subprocess.run([str(HZ_BIN), "publish", "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0 or "harmonize-run publish" not in r.stdout:
        notes.append("Sharded runs skipped: this `harmonize-run` has no `publish` command yet (the shard ledger of "
                     "issue 14); the script runs them as soon as it has.")
        return False
    return True


def shard_mapping(work):
    """claims.yaml with `subject: BEN_NIR_PSA` under `source:` (a run splits records by subject;
    without one every record goes to shard 0), next to a copy of its model."""
    d = work / "shard-mapping"
    d.mkdir(parents=True, exist_ok=True)
    text = MAPPING.read_text()
    text = text.replace("  format: csv\n", "  format: csv\n  subject: BEN_NIR_PSA\n", 1)
    (d / "claims.yaml").write_text(text)
    shutil.copy(BENCH / "claims" / "model.yaml", d / "model.yaml")
    return d / "claims.yaml"


def run_shards(uri, data, n, k, rnd, work, env, mapping, jobs):
    """N processes `run --shard i/N --run-id ID --output …` (at most `jobs` at once), then
    `publish --run-id ID --output …`. Returns (ok, wall, cpu, message)."""
    out = with_schema(uri, "bench_shard")
    run_id = f"bench-shard-{size_name(n)}-{k}-{rnd}-{os.getpid()}"
    t0 = time.perf_counter()
    cpu = 0.0
    pending = list(range(k))
    running = []
    logs = []
    while pending or running:
        while pending and len(running) < jobs:
            i = pending.pop(0)
            lf = open(work / f"shard-{i}.log", "w")
            logs.append(lf)
            argv = [str(HZ_BIN), "run", "--mappings", str(mapping), "--input", str(data), "--output", out,
                    "--key-env", KEY_ENV, "--no-progress", "--no-quality", "--shard", f"{i}/{k}", "--run-id", run_id]
            running.append((i, subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT, env=env)))
        pid, status, ru = os.wait4(-1, 0)
        done = [x for x in running if x[1].pid == pid]
        if not done:
            continue
        running.remove(done[0])
        cpu += ru.ru_utime + ru.ru_stime
        rc = os.waitstatus_to_exitcode(status)
        done[0][1].returncode = rc
        if rc != 0:
            for _, p in running:
                p.wait()
            tail = (work / f"shard-{done[0][0]}.log").read_text(errors="replace").strip().splitlines()[-2:]
            return False, 0, 0, f"shard {done[0][0]}/{k} exit {rc}: {' | '.join(tail)[-300:]}"
    for lf in logs:
        lf.close()
    ok, wall, _, pcpu, msg = timed([str(HZ_BIN), "publish", "--run-id", run_id, "--output", out], work / "publish", env)
    if not ok:
        return False, 0, 0, f"publish: {msg}"
    return True, time.perf_counter() - t0, cpu + pcpu, ""


def postmaster_pid(uri):
    """The server's postmaster (the parent of a backend) when the server runs on this machine
    and /proc shows it, else None."""
    try:
        backend = int(psql_value(uri, "SELECT pg_backend_pid()"))
        fields = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[1])
    except (OSError, ValueError, IndexError, SystemExit):
        return None


def server_cpu(pm):
    """CPU seconds of the server so far: the postmaster's own and reaped children's (utime,
    stime, cutime, cstime), plus its live children's. None when unreadable."""
    if pm is None:
        return None
    tick = os.sysconf("SC_CLK_TCK")

    def stat(pid):
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(f[1]), sum(int(x) for x in f[11:15])   # ppid; utime stime cutime cstime
    try:
        total = stat(pm)[1]
    except (OSError, ValueError, IndexError):
        return None
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != pm:
            try:
                ppid, t = stat(d)
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pm:
                total += t
    return total / tick


def pg_timed(pm, argv, workdir, env, stdout_path=None):
    """timed() plus the server's CPU seconds over the run (None when not measurable)."""
    s0 = server_cpu(pm)
    ok, wall, rss, cpu, msg = timed(argv, workdir, env, stdout_path=stdout_path)
    time.sleep(0.2)   # the run's backends exit when it disconnects; let the postmaster reap them
    s1 = server_cpu(pm)
    return ok, wall, rss, cpu, msg, (s1 - s0 if s0 is not None and s1 is not None else None)


def pg_phases(summary):
    try:
        return json.loads(summary.read_text()).get("postgresql_phases")
    except (OSError, ValueError):
        return None


def run_pg_bench(args):
    sizes = sorted(parse_size(s) for s in args.sizes.split(","))
    shards = sorted({int(s) for s in args.shards.split(",") if s.strip()})
    notes = []
    env = dict(os.environ, **{KEY_ENV: KEY_VALUE})
    header = machine_header(args)
    header[0] = header[0].replace("claims benchmark", "PostgreSQL benchmark (`--suite postgresql`)")
    if not args.no_build and not build_harmonize(notes):
        raise SystemExit("\n".join(notes))
    if not HZ_BIN.exists():
        raise SystemExit(f"{HZ_BIN} missing: build it (swift build -c release --static-swift-stdlib --product harmonize-run)")
    uri, throwaway = pg_server(args, notes)
    header.insert(-1, f"* PostgreSQL {server_version(uri)}, psql `{out_of(['psql', '--version'])}`")
    pm = postmaster_pid(uri)
    if pm is None:
        notes.append("Server CPU not measured: the server's processes are not visible in this machine's /proc.")
    sharded = [k for k in shards if k > 1]
    if sharded and not has_publish(notes):
        sharded = []
    out = list(header)
    verdicts = ["### Target: Harmonize ≥ 0.8 × `\\copy`'s rows/s, end to end including the mapping", "",
                "| size | compared with | ratio (Harmonize rows/s ÷ peer rows/s) | verdict |", "|---|---|---:|---|"]
    try:
        for n in sizes:
            data = ensure_data(Path(args.data), n)
            work = Path(args.work) / f"pg-{size_name(n)}"
            clean(work)
            csv_path = peer_csv(data, n, work, env, notes)
            mapping_sharded = shard_mapping(work) if sharded else None
            load_start = os.getloadavg()
            res = {p: {"walls": [], "cpus": [], "scpus": [], "status": "ok", "note": ""} for p in
                   ["hz", "peer-load", "peer-keys", "peer-total"] + [f"shard-{k}" for k in sharded]
                   + (["hz-base"] if BASELINE_BIN else [])}
            phases, key_sql = [], None
            for rnd in range(args.repeat):
                # Harmonize: mapping + COPY into a staging schema, keys after the load, one-transaction publish.
                psql(uri, "DROP SCHEMA IF EXISTS bench_hz CASCADE")
                warm([data / "er_prs_f.csv", data / "vocab.csv"])
                w = work / "hz"
                clean(w)
                argv = [str(HZ_BIN), "run", "--mappings", str(MAPPING), "--input", str(data), "--output",
                        with_schema(uri, "bench_hz"), "--key-env", KEY_ENV, "--no-progress", "--no-quality",
                        "--run-id", f"bench-{size_name(n)}-{rnd}", "--json"]
                log(f"[pg {size_name(n)} round {rnd + 1}/{args.repeat}] harmonize → PostgreSQL ...")
                ok, wall, _, cpu, msg, scpu = pg_timed(pm, argv, w, env, stdout_path=w / "summary.json")
                if not ok:
                    raise SystemExit(f"harmonize-run failed: {msg}")
                res["hz"]["walls"].append(wall)
                res["hz"]["cpus"].append(cpu)
                res["hz"]["scpus"].append(scpu)
                ph = pg_phases(w / "summary.json")
                if ph:
                    phases.append(dict(ph, wall=wall))
                log(f"    {wall:.2f} s wall, {cpu:.2f} s CPU" + (f", phases {ph}" if ph else ""))
                if key_sql is None:
                    key_sql = key_statements(uri, "bench_hz", "bench_peer", "claim_mapped")
                if BASELINE_BIN:
                    # Another build of harmonize-run (--baseline-bin), same flags: before/after figures.
                    psql(uri, "DROP SCHEMA IF EXISTS bench_hzbase CASCADE")
                    warm([data / "er_prs_f.csv", data / "vocab.csv"])
                    w = work / "hz-base"
                    clean(w)
                    bargv = [str(BASELINE_BIN)] + argv[1:]
                    bargv[bargv.index("--output") + 1] = with_schema(uri, "bench_hzbase")
                    log(f"[pg {size_name(n)} round {rnd + 1}/{args.repeat}] harmonize baseline → PostgreSQL ...")
                    ok, wall, _, cpu, msg, scpu = pg_timed(pm, bargv, w, env, stdout_path=w / "summary.json")
                    r = res["hz-base"]
                    if not ok:
                        r["status"], r["note"] = "failed", msg
                    else:
                        r["walls"].append(wall)
                        r["cpus"].append(cpu)
                        r["scpus"].append(scpu)
                        log(f"    {wall:.2f} s wall, {cpu:.2f} s CPU")
                # The peer: the same rows from the CSV file, psql's \copy into a table of the same
                # definition (LIKE Harmonize's), then the same keys, constraints, indices and ANALYZE.
                psql(uri, "DROP SCHEMA IF EXISTS bench_peer CASCADE; CREATE SCHEMA bench_peer; "
                          "CREATE TABLE bench_peer.claim_mapped (LIKE bench_hz.claim_mapped)")
                warm([csv_path])
                w = work / "peer"
                clean(w)
                log(f"[pg {size_name(n)} round {rnd + 1}/{args.repeat}] psql \\copy ...")
                ok, wall, _, cpu, msg, scpu = pg_timed(pm, ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", uri, "-c",
                                                            f"\\copy bench_peer.claim_mapped FROM '{csv_path}' CSV HEADER"], w, env)
                if not ok:
                    raise SystemExit(f"psql \\copy failed: {msg}")
                res["peer-load"]["walls"].append(wall)
                res["peer-load"]["cpus"].append(cpu)
                res["peer-load"]["scpus"].append(scpu)
                (w / "keys.sql").write_text("\n".join(key_sql) + "\n")
                ok, kwall, _, kcpu, msg, kscpu = pg_timed(pm, ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", uri, "-f",
                                                               str(w / "keys.sql")], w, env)
                if not ok:
                    raise SystemExit(f"psql keys failed: {msg}")
                res["peer-keys"]["walls"].append(kwall)
                res["peer-keys"]["cpus"].append(kcpu)
                res["peer-keys"]["scpus"].append(kscpu)
                res["peer-total"]["walls"].append(wall + kwall)
                res["peer-total"]["cpus"].append(cpu + kcpu)
                res["peer-total"]["scpus"].append(None if scpu is None or kscpu is None else scpu + kscpu)
                log(f"    load {wall:.2f} s, keys {kwall:.2f} s")
                for k in sharded:
                    if res[f"shard-{k}"]["status"] != "ok":
                        continue
                    psql(uri, "DROP SCHEMA IF EXISTS bench_shard CASCADE")
                    warm([data / "er_prs_f.csv", data / "vocab.csv"])
                    w = work / f"shard-{k}"
                    clean(w)
                    log(f"[pg {size_name(n)} round {rnd + 1}/{args.repeat}] {k} shards + publish ...")
                    s0 = server_cpu(pm)
                    ok, wall, cpu, msg = run_shards(uri, data, n, k, rnd, w, env, mapping_sharded, min(k, args.shard_jobs or k))
                    time.sleep(0.2)
                    s1 = server_cpu(pm)
                    r = res[f"shard-{k}"]
                    r["scpus"].append(s1 - s0 if s0 is not None and s1 is not None else None)
                    if not ok:
                        r["status"], r["note"] = "failed", msg
                        log(f"    failed: {msg}")
                        continue
                    r["walls"].append(wall)
                    r["cpus"].append(cpu)
                    log(f"    {wall:.2f} s wall, {cpu:.2f} s CPU")
            # Same rows? Multiset comparison of the two tables (every column), not timed.
            count = int(psql_value(uri, "SELECT count(*) FROM bench_hz.claim_mapped"))
            diff = int(psql_value(uri, "SELECT (SELECT count(*) FROM (SELECT * FROM bench_hz.claim_mapped EXCEPT ALL "
                                       "SELECT * FROM bench_peer.claim_mapped) a) + (SELECT count(*) FROM (SELECT * FROM "
                                       "bench_peer.claim_mapped EXCEPT ALL SELECT * FROM bench_hz.claim_mapped) b)"))
            shard_counts = {}
            for k in sharded:
                if res[f"shard-{k}"]["status"] == "ok":
                    shard_counts[k] = int(psql_value(uri, "SELECT count(*) FROM bench_shard.claim_mapped"))
            load_end = os.getloadavg()
            for r in res.values():
                if r["status"] == "ok" and r["walls"]:
                    r["wall"], r["cpu"] = statistics.median(r["walls"]), statistics.median(r["cpus"])
                    sc = [x for x in r["scpus"] if x is not None]
                    r["scpu"] = statistics.median(sc) if sc and len(sc) == len(r["scpus"]) else None
                elif r["status"] == "ok":
                    r["status"] = "missing"
            out += pg_tables(n, count, diff, res, sharded, shard_counts, phases, key_sql, args, load_start, load_end)
            hz, pl, pt = res["hz"], res["peer-load"], res["peer-total"]
            for what, peer in (("`\\copy` + the same keys/ANALYZE (same work)", pt), ("`\\copy` load only (strict)", pl)):
                ratio = peer["wall"] / hz["wall"]
                verdicts.append(f"| {size_name(n)} | {what} | {ratio:.2f}× | {'PASS' if ratio >= 0.8 else 'FAIL'} |")
            if hz.get("scpu") is not None and pt.get("scpu") is not None:
                ratio = (pt["cpu"] + pt["scpu"]) / (hz["cpu"] + hz["scpu"])
                verdicts.append(f"| {size_name(n)} | CPU seconds (client + server) of `\\copy` + keys ÷ Harmonize's: "
                                "rows per CPU second, less disturbed by other jobs than wall time | "
                                f"{ratio:.2f}× | {'PASS' if ratio >= 0.8 else 'FAIL'} (CPU, for a loaded machine) |")
            if not args.keep_outputs:
                shutil.rmtree(work, ignore_errors=True)
    finally:
        if throwaway:
            subprocess.run(["bash", str(ROOT / "Scripts" / "pg_throwaway.sh"), "stop", throwaway])
    out += verdicts + [""]
    if notes:
        out += ["### Notes", ""] + [f"* {x}" for x in notes] + [""]
    out += [f"Load average at the end: {os.getloadavg()[0]:.2f} (on a shared machine, compare ratios from one run only).", ""]
    text = "\n".join(out)
    print(text)
    res_dir = BENCH / "results"
    res_dir.mkdir(exist_ok=True)
    (res_dir / "postgresql-latest.md").write_text(text)
    log(f"written {res_dir / 'postgresql-latest.md'}")
    return 0


def out_of(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def pg_tables(n, count, diff, res, sharded, shard_counts, phases, key_sql, args, load_start, load_end):
    def runs(r):
        return ", ".join(f"{x:.2f}" for x in r["walls"])

    peer_total = res["peer-total"]["wall"]
    lines = [f"### {size_name(n)} claims ({count:,} rows in claim_mapped)", "",
             f"Median of {args.repeat} runs (rounds interleave the programs); load average "
             f"{load_start[0]:.2f} / {load_start[1]:.2f} (1 / 5 min) before, {load_end[0]:.2f} / {load_end[1]:.2f} after. "
             f"Rows of the two tables compared as multisets over every column: **{diff} difference(s)**.", "",
             "| program | wall s | rows/s | ÷ peer (load + keys), rows/s | client CPU s | server CPU s | client + server CPU ÷ peer's | runs (wall s) |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    pt = res["peer-total"]
    peer_cpu = pt["cpu"] + pt["scpu"] if pt.get("scpu") is not None else None
    after_table_notes = []

    def row(label, r, k=1):
        if r["status"] != "ok":
            lines.append(f"| {label} | {r['status']} | | | | | | {r['note'][:160]} |")
            return
        w = r["wall"]
        sc = r.get("scpu")
        both = r["cpu"] + sc if sc is not None else None
        lines.append(f"| {label} | {w:.2f} | {count / w:,.0f} | {peer_total / w:.2f}× | {r['cpu']:.2f} | "
                     + (f"{sc:.2f}" if sc is not None else "–") + " | "
                     + (f"{both / peer_cpu:.2f}×" if both is not None and peer_cpu else "–") + f" | {runs(r)} |")

    row("Harmonize → PostgreSQL: mapping + COPY + keys + publish, 1 process", res["hz"])
    if "hz-base" in res:
        row(f"Harmonize baseline build (`--baseline-bin {BASELINE_BIN}`), same flags", res["hz-base"])
        b = res["hz-base"]
        if b["status"] == "ok" and res["hz"]["status"] == "ok":
            extra = ""
            if b.get("scpu") is not None and res["hz"].get("scpu") is not None:
                extra = (f"; client CPU {res['hz']['cpu'] / b['cpu']:.2f}×, server CPU "
                         f"{res['hz']['scpu'] / b['scpu']:.2f}× the baseline's")
            after_table_notes.append(f"Harmonize ÷ baseline: wall {res['hz']['wall'] / b['wall']:.2f}×{extra}.")
    for k in sharded:
        row(f"Harmonize, {k} shards (`run --shard i/{k}` × {k}, ≤ {min(k, args.shard_jobs or k)} at once) + `publish`",
            res[f"shard-{k}"])
    row("psql `\\copy` of the same rows from CSV (load only, no mapping)", res["peer-load"])
    row("psql `\\copy` + the same keys, indices and ANALYZE", res["peer-total"])
    lines.append("")
    if after_table_notes:
        lines += after_table_notes + [""]
    if shard_counts:
        lines += [f"Rows published by the sharded runs: " + ", ".join(f"{k} shards: {c:,}" for k, c in shard_counts.items())
                  + (" (the same as unsharded)" if all(c == count for c in shard_counts.values()) else " (**differs from unsharded**)"), ""]
    if phases:
        lines += ["Phases of Harmonize's run (`run --json`, `postgresql_phases`; median seconds; \"other\" = process wall − "
                  "phases: start-up, reading the mapping and vocabulary, closing):", "",
                  "| phase | seconds | share of wall |", "|---|---:|---:|"]
        wall = statistics.median(p["wall"] for p in phases)
        total = 0.0
        for k in PG_PHASES:
            v = statistics.median(p.get(k, 0.0) for p in phases)
            total += v
            lines.append(f"| {PG_PHASE_LABEL[k]} | {v:.3f} | {100 * v / wall:.1f} % |")
        lines.append(f"| other | {max(wall - total, 0):.3f} | {100 * max(wall - total, 0) / wall:.1f} % |")
        after = sum(statistics.median(p.get(k, 0.0) for p in phases) for k in ("keys", "constraints", "indices", "analyze"))
        lines += ["", f"Keys and indices after the load (keys + constraints + indices + ANALYZE): {after:.3f} s "
                  f"({100 * after / wall:.1f} % of the run); the peer's same statements: {res['peer-keys']['wall']:.3f} s "
                  f"(`{' '.join(key_sql)}`)."]
    else:
        lines += ["Phases: the binary's `run --json` has no `postgresql_phases` (an older build)."]
    return lines + [""]


def build_pg_copy(notes):
    if PG_COPY_BIN.exists() and PG_COPY_BIN.stat().st_mtime >= PG_COPY_C.stat().st_mtime:
        return True
    PG_COPY_BIN.parent.mkdir(parents=True, exist_ok=True)
    inc = out_of(["pg_config", "--includedir"])
    t0 = time.perf_counter()
    r = subprocess.run(["gcc", "-O2", "-o", str(PG_COPY_BIN), str(PG_COPY_C), f"-I{inc}", "-lpq"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        notes.append(f"pg_copy (libpq) not built (`apt-get install -y libpq-dev`?):\n```\n{r.stdout.strip()[-600:]}\n```")
        return False
    notes.append(f"libpq peer `bench/peers/pg_copy.c` built by gcc -O2 in {time.perf_counter() - t0:.1f} s.")
    return True


def build_nio(args, notes):
    """Builds bench/peers/postgresnio-copy in release (its scratch folder outside the repository).
    Returns the cold build seconds when this call built it from scratch, else None."""
    if args.nio_cold_build:
        shutil.rmtree(NIO_SCRATCH, ignore_errors=True)
    cold = not NIO_SCRATCH.exists()
    t0 = time.perf_counter()
    log(f"building the PostgresNIO peer ({'cold' if cold else 'incremental'}) ...")
    r = subprocess.run(["swift", "build", "-c", "release", "--package-path", str(NIO_PKG), "--scratch-path", str(NIO_SCRATCH)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    secs = time.perf_counter() - t0
    if r.returncode != 0 or not NIO_BIN.exists():
        notes.append(f"PostgresNIO peer not built (exit {r.returncode}):\n```\n{r.stdout.strip()[-800:]}\n```")
        return False, None
    return True, (secs if cold else None)


def run_pg_clients(args):
    """COPY formats and clients on the same rows: claim_mapped of the claims benchmark."""
    sizes = sorted(parse_size(s) for s in args.sizes.split(","))
    notes = []
    env = dict(os.environ, **{KEY_ENV: KEY_VALUE})
    header = machine_header(args)
    header[0] = header[0].replace("claims benchmark", "PostgreSQL COPY formats and clients (`--suite postgresql-clients`)")
    if not args.no_build and not build_harmonize(notes):
        raise SystemExit("\n".join(notes))
    if not build_pg_copy(notes):
        raise SystemExit("\n".join(notes))
    nio_ok, nio_cold = (False, None)
    if not args.no_nio:
        nio_ok, nio_cold = build_nio(args, notes)
    else:
        notes.append("PostgresNIO peer skipped (--no-nio).")
    uri, throwaway = pg_server(args, notes)
    header.insert(-1, f"* PostgreSQL {server_version(uri)}, libpq {out_of(['pg_config', '--version'])}")
    parts = subprocess.run([sys.executable, "-c", "import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); "
                            "print(p.hostname or '127.0.0.1', p.port or 5432, p.username or '', p.path.lstrip('/'))", uri],
                           capture_output=True, text=True).stdout.split()
    out = list(header)
    try:
        for n in sizes:
            data = ensure_data(Path(args.data), n)
            work = Path(args.work) / f"pgc-{size_name(n)}"
            clean(work)
            csv_path = peer_csv(data, n, work, env, notes)
            # The table definition: Harmonize's claim_mapped (one untimed run), copied into public.
            psql(uri, "DROP SCHEMA IF EXISTS bench_hz CASCADE")
            ok, _, _, _, msg = timed([str(HZ_BIN), "run", "--mappings", str(MAPPING), "--input", str(data), "--output",
                                      with_schema(uri, "bench_hz"), "--key-env", KEY_ENV, "--no-progress", "--no-quality"],
                                     work / "hz", env)
            if not ok:
                raise SystemExit(f"harmonize-run failed: {msg}")
            psql(uri, "DROP TABLE IF EXISTS public.bench_copy; CREATE TABLE public.bench_copy (LIKE bench_hz.claim_mapped)")
            text_file = work / "claim_mapped.copy"
            subprocess.run([str(PG_COPY_BIN), uri, "public.bench_copy", str(csv_path), "text", "--dump-text", str(text_file)],
                           check=True, capture_output=True)
            progs = [("libpq-text", "libpq, text format (rows encoded while sending)"),
                     ("libpq-binary", "libpq, binary format (rows encoded while sending)"),
                     ("libpq-raw", "libpq, text rows encoded beforehand (transfer only)")]
            if nio_ok:
                progs.append(("nio-text", "PostgresNIO `copyFrom`, text rows encoded beforehand (transfer only)"))
            res = {p: [] for p, _ in progs}
            load_start = os.getloadavg()
            for rnd in range(args.repeat):
                for p, _ in progs:
                    if p == "nio-text":
                        argv = [str(NIO_BIN), parts[0], parts[1], parts[2], parts[3], "bench_copy", str(text_file)]
                    else:
                        argv = [str(PG_COPY_BIN), uri, "public.bench_copy", str(csv_path), p.split("-")[1]]
                    log(f"[clients {size_name(n)} round {rnd + 1}/{args.repeat}] {p} ...")
                    r = subprocess.run(argv, capture_output=True, text=True)
                    if r.returncode != 0:
                        raise SystemExit(f"{p} failed: {r.stderr.strip()[-400:]}")
                    m = json.loads(r.stdout.strip().splitlines()[-1])
                    res[p].append(m)
                    log(f"    {m['seconds']:.2f} s, client CPU {m['client_cpu']:.2f} s, server CPU {m['server_cpu']:.2f} s")
            load_end = os.getloadavg()
            rows = res["libpq-text"][0]["rows"]
            lines = [f"### {size_name(n)} claims ({rows:,} rows of claim_mapped, 19 columns)", "",
                     f"Median of {args.repeat} COPYs into `public.bench_copy` (TRUNCATE before each); load average "
                     f"{load_start[0]:.2f} / {load_start[1]:.2f} (1 / 5 min) before, {load_end[0]:.2f} / {load_end[1]:.2f} after.",
                     "", "| client, format | wall s | rows/s | MB sent | client CPU s | server backend CPU s | ÷ libpq text (rows/s) |",
                     "|---|---:|---:|---:|---:|---:|---:|"]
            base = statistics.median(m["seconds"] for m in res["libpq-text"])
            for p, label in progs:
                ms = res[p]
                s = statistics.median(m["seconds"] for m in ms)
                cc = statistics.median(m["client_cpu"] for m in ms)
                sc = statistics.median(m["server_cpu"] for m in ms)
                lines.append(f"| {label} | {s:.2f} | {rows / s:,.0f} | {ms[0]['bytes'] / 1e6:.1f} | {cc:.2f} | "
                             f"{sc:.2f} | {base / s:.2f}× |")
            out += lines + [""]
            if not args.keep_outputs:
                shutil.rmtree(work, ignore_errors=True)
    finally:
        if throwaway:
            subprocess.run(["bash", str(ROOT / "Scripts" / "pg_throwaway.sh"), "stop", throwaway])
    out += ["### Build time of the client", "", "| client | cold build |", "|---|---|",
            "| libpq through the `CLibPQ` shim (a module map over the system's libpq-fe.h) | ~0 s (nothing to compile) |",
            "| PostgresNIO 1.33.2 with swift-nio, swift-nio-ssl, swift-crypto … (`swift build -c release`, fresh scratch folder) | "
            + (f"{nio_cold:.0f} s" if nio_cold is not None else "not measured in this run (pass --nio-cold-build)") + " |", ""]
    if notes:
        out += ["### Notes", ""] + [f"* {x}" for x in notes] + [""]
    out += [f"Load average at the end: {os.getloadavg()[0]:.2f} (on a shared machine, compare ratios from one run only).", ""]
    text = "\n".join(out)
    print(text)
    res_dir = BENCH / "results"
    res_dir.mkdir(exist_ok=True)
    (res_dir / "postgresql-clients-latest.md").write_text(text)
    log(f"written {res_dir / 'postgresql-clients-latest.md'}")
    return 0


def main():
    ap = argparse.ArgumentParser(description="Harmonize claims benchmark (see bench/README.md)")
    ap.add_argument("--suite", choices=["claims", "join", "postgresql", "postgresql-clients"], default="claims",
                    help="claims: er_prs_f.csv -> claim_mapped (default); join: er_pha_f.csv joined to "
                         "er_prs_f.csv on the nine DCIR keys -> pha_mapped; postgresql: the claims into "
                         "PostgreSQL against psql's \\copy of the same rows from a CSV file; postgresql-clients: "
                         "COPY text vs binary (libpq) and libpq vs PostgresNIO on those rows")
    ap.add_argument("--shards", default="1",
                    help="--suite postgresql: comma list of shard counts (1,2,4): N > 1 runs `run --shard i/N` N times "
                         "then `publish` (skipped with a note when the binary has no `publish`)")
    ap.add_argument("--shard-jobs", type=int, default=0,
                    help="--suite postgresql: shard processes at once (default: all N)")
    ap.add_argument("--no-nio", action="store_true", help="--suite postgresql-clients: leave out the PostgresNIO peer")
    ap.add_argument("--nio-cold-build", action="store_true",
                    help="--suite postgresql-clients: empty the PostgresNIO peer's scratch folder first (measures a cold build)")
    ap.add_argument("--postgres", default=None,
                    help="--suite postgresql: the server URI (default: HARMONIZE_TEST_POSTGRES, else a throwaway "
                         "server from Scripts/pg_throwaway.sh)")
    ap.add_argument("--sizes", default="1m,5m", help="comma list of claim counts: 100k, 1m, 5m, 2500000 ...")
    ap.add_argument("--repeat", type=int, default=3, help="runs per program (median)")
    ap.add_argument("--no-build", action="store_true", help="use the existing .build/release/harmonize-run")
    ap.add_argument("--baseline-bin", default=None,
                    help="another build of harmonize-run (an earlier commit) run side by side as harmonize-baseline (claims suite; --suite postgresql: a baseline run into PostgreSQL)")
    ap.add_argument("--skip-slow", action="store_true",
                    help="run the Python peer at 1M rows only and scale its time to larger sizes")
    ap.add_argument("--only", default="", help="comma list among: " + ",".join(ALL)
                    + "; with --suite join: " + ",".join(JOIN_ALL))
    ap.add_argument("--data", default="/tmp/bench-data/harmonize",
                    help="data sets folder (DATA/<size>); regenerated there when not bench/gen_claims.py's")
    ap.add_argument("--work", default="/tmp/bench-work", help="scratch folder for outputs")
    ap.add_argument("--keep-outputs", action="store_true", help="keep the databases written under --work")
    ap.add_argument("--check", action="store_true",
                    help="correctness mode: compare Harmonize's rows with the Python peer's")
    ap.add_argument("--check-size", default="1m")
    ap.add_argument("--check-target", choices=["harmonize", "c"], default="harmonize",
                    help="program checked against the Python peer (c: self-test of the check; claims suite only)")
    ap.add_argument("--large-budget", default="512M",
                    help="--suite join: --memory-budget of the run `harmonize-large` (asked for with --only): "
                         "a budget whose peak RSS stays under a quarter of DuckDB's, the target's memory bound")
    ap.add_argument("--spill-budget", default="128M",
                    help="--suite join: --memory-budget of the second Harmonize run (harmonize-spill), "
                         "small enough for the join index to move to disk (default 128M)")
    args = ap.parse_args()
    global BASELINE_BIN
    BASELINE_BIN = args.baseline_bin
    names = JOIN_ALL if args.suite == "join" else ALL
    bad = [p for p in args.only.split(",") if p and p not in names]
    if bad:
        ap.error(f"unknown program(s) {bad} for --suite {args.suite}; choose among {names}")
    try:
        budget_bytes(args.spill_budget)
    except ValueError:
        ap.error("--spill-budget is a size in bytes, or with K, M or G (64M)")
    if args.suite == "postgresql":
        sys.exit(run_pg_bench(args))
    if args.suite == "postgresql-clients":
        sys.exit(run_pg_clients(args))
    if args.suite == "join":
        if args.check and args.check_target != "harmonize":
            ap.error("--check-target c is for the claims suite only")
        if not Path("/usr/bin/time").exists():
            log("note: /usr/bin/time missing (apt-get install -y time); timing with os.wait4 instead")
        sys.exit(run_join_check(args) if args.check else run_join_bench(args))
    if not Path("/usr/bin/time").exists():
        log("note: /usr/bin/time missing (apt-get install -y time); timing with os.wait4 instead")
    sys.exit(run_check(args) if args.check else run_bench(args))


if __name__ == "__main__":
    main()
