#!/usr/bin/env python3
"""Instructions executed by builds of harmonize-run on the XML stays and the claims, counted by
`valgrind --tool=callgrind`: a measure that a shared, noisy machine does not blur, for comparing
builds change by change (wall and CPU figures still come from run_bench.py and
run_hospital_bench.py, side by side with the peers).

    python3 bench/instructions.py --bin BEFORE --bin AFTER [--stays 20000] [--claims 100000]
                                  [--shared ../shared/bench] [--data /tmp/bench-data]

Each build runs `his-visit` + `his-condition` on N stays and `bench/claims/claims.yaml` on N
claims, both `--sink none`, under callgrind. Notes:
* valgrind 3.19 cannot read the DWARF of these builds: each binary is copied without its debug
  sections (`objcopy --strip-debug`; the symbol table stays, so functions keep their names).
* valgrind's CPU has no SHA extensions: the SHA-256 compressions run their portable code (a
  third of the XML run's count). The table gives the count outside them too, the comparable part.
* Under valgrind the threads run one at a time: the counts are the work, not the wall time.
Output: a Markdown table on stdout; `--top N` adds each build's N costliest functions. `--writer`
adds the claims into SQLite with `--threads 1`, counting the SQLite writing thread alone
(`callgrind --separate-threads`), for changes to the sink; `--mapper` adds the claims into SQLite
with the default threads, counting the mapping thread alone: the run's bound on two cores, where
the claims are read and mapped on one thread (the writer and the pseudonyms' hashing on others).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
KEY_ENV = "HARMONIZE_BENCH_KEY"
KEY_VALUE = "harmonize-benchmark-key-0123456789-not-a-secret"
SHA = re.compile(r"compressPortable|sha256_block_data_order")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def builds_parser(doc):
    """The command line the scripts comparing builds share (instructions.py, startup.py, pairs.py):
    the builds (`--bin`, repeated; the first is the reference) and the folder of generated data."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", action="append", required=True, help="a harmonize-run build (repeat; the first is the reference)")
    p.add_argument("--data", type=Path, default=Path("/tmp/bench-data"))
    return p


def rotated(builds, r):
    """The builds in round `r`'s order: rotated by one place a round, so that a slow phase of the
    machine falls on each of them in turn."""
    k = r % len(builds)
    return builds[k:] + builds[:k]


def ensure_stays(shared, data, n):
    path = data / "hospital" / f"his-{n}" / "his" / "his.xml"
    if not path.exists() or path.stat().st_size == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        log(f"generating {path}")
        subprocess.run([sys.executable, str(shared / "gen_his_xml.py"), str(n), str(path)], check=True)
    return path.parent.parent


def ensure_claims(data, n):
    folder = data / "instructions-claims" / str(n)
    if not (folder / "er_prs_f.csv").exists():
        log(f"generating {n} claims into {folder}")
        subprocess.run([sys.executable, str(BENCH / "gen_claims.py"), "--rows", str(n), "--out", str(folder), "--seed", "42"],
                       check=True)
    return folder


def functions(out_file):
    """(function, instructions) from callgrind_annotate, costliest first."""
    text = subprocess.run(["callgrind_annotate", "--threshold=100", str(out_file)], capture_output=True, text=True).stdout
    rows = []
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(.*)$", line)
        if m and "PROGRAM TOTALS" not in m.group(2):
            rows.append((re.sub(r"\s*\[.*\]$", "", m.group(2)), int(m.group(1).replace(",", ""))))
    return rows


def count(binary, argv, work, thread=None):
    """Instructions of the run; with `thread` (a function name's part), of the one thread that
    executes the most instructions in functions so named (`sqlite3VdbeExec`: the SQLite writing
    thread; `RecordStages`: the mapping thread)."""
    out = work / "callgrind.out"
    env = dict(os.environ, **{KEY_ENV: KEY_VALUE})
    threads = ["--separate-threads=yes"] if thread else []
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + threads + [str(binary)] + argv,
                       cwd=work, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{binary}: exit {r.returncode}: {r.stderr.strip()[-400:]}")
    if thread:
        per_thread = [functions(f) for f in sorted(work.glob("callgrind.out-*"))]
        fns = max(per_thread, key=lambda t: sum(n for f, n in t if thread in f))
    else:
        fns = functions(out)
    total = sum(n for _, n in fns)
    sha = sum(n for f, n in fns if SHA.search(f))
    return total, sha, fns


def main():
    p = builds_parser(__doc__)
    p.add_argument("--stays", type=int, default=20000)
    p.add_argument("--claims", type=int, default=100000)
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "bench")
    p.add_argument("--top", type=int, default=0)
    p.add_argument("--writer", action="store_true",
                   help="also the claims into SQLite with --threads 1: the instructions of the writing thread alone")
    p.add_argument("--mapper", action="store_true",
                   help="also the claims into SQLite with the default threads: the instructions of the mapping thread alone")
    args = p.parse_args()
    for tool in ("valgrind", "callgrind_annotate", "objcopy"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed")
    stays = ensure_stays(args.shared, args.data, args.stays)
    claims = ensure_claims(args.data, args.claims)
    workloads = [
        (f"XML {args.stays:,} stays `--sink none`",
         ["--mappings", str(ROOT / "mappings/hospital/his-visit.yaml"), "--mappings", str(ROOT / "mappings/hospital/his-condition.yaml"),
          "--input", str(stays), "--max-reject-rate", "1"]),
        (f"claims {args.claims:,} `--sink none`", ["--mappings", str(BENCH / "claims/claims.yaml"), "--input", str(claims)]),
    ]
    if args.writer:
        workloads.append((f"claims {args.claims:,} → SQLite `--threads 1`, writing thread",
                          ["--mappings", str(BENCH / "claims/claims.yaml"), "--input", str(claims), "--threads", "1"]))
    if args.mapper:
        workloads.append((f"claims {args.claims:,} → SQLite, mapping thread",
                          ["--mappings", str(BENCH / "claims/claims.yaml"), "--input", str(claims)]))
    results = {}
    tops = []
    with tempfile.TemporaryDirectory(prefix="harmonize-instructions-") as tmp:
        tmp = Path(tmp)
        for i, b in enumerate(args.bin):
            src = Path(b).resolve()
            stripped = tmp / f"build{i}" / "harmonize-run"
            stripped.parent.mkdir()
            subprocess.run(["objcopy", "--strip-debug", str(src), str(stripped)], check=True)
            resources = src.parent / "Harmonize_Mappings.resources"
            if resources.exists():
                shutil.copytree(resources, stripped.parent / resources.name)
            for name, argv in workloads:
                work = tmp / f"work{i}"
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir()
                log(f"{b}: {name}")
                thread = "sqlite3VdbeExec" if "writing thread" in name else "RecordStages" if "mapping thread" in name else None
                full = ["run"] + argv + ["--output", str(work / "omop.sqlite"), "--key-env", KEY_ENV, "--no-progress",
                                         "--no-quality"] + ([] if thread else ["--sink", "none"])
                total, sha, fns = count(stripped, full, work, thread=thread)
                results[(i, name)] = (total, sha)
                if args.top:
                    tops.append((b, name, fns[:args.top]))
    print("| build | work | instructions (M) | outside SHA-256 (M) | ÷ first build (outside SHA-256) |")
    print("|---|---|---:|---:|---:|")
    for name, _ in workloads:
        ref = results[(0, name)][0] - results[(0, name)][1]
        for i, b in enumerate(args.bin):
            total, sha = results[(i, name)]
            print(f"| `{b}` | {name} | {total / 1e6:,.1f} | {(total - sha) / 1e6:,.1f} | {(total - sha) / ref:.3f} |")
    for b, name, fns in tops:
        print(f"\n{b}, {name}:\n")
        for f, n in fns:
            print(f"    {n / 1e6:9.1f} M  {f[:140]}")


if __name__ == "__main__":
    main()
