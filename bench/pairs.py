#!/usr/bin/env python3
"""Builds of harmonize-run side by side on the claims, in rotating rounds: for changes whose effect
on the wall time is smaller than this machine's swings from one minute to the next.

    python3 bench/pairs.py --bin BEFORE --bin AFTER [--rounds 12] [--claims 1000000]
                           [--sink sqlite|none] [--files 1] [--threads auto] [--data /tmp/bench-data]

Each round runs `bench/claims/claims.yaml` once with every build, the builds' order rotating (and
reversed every other round) so that a slow phase of the machine falls on all of them; the table
gives each build's medians (wall, CPU, peak RSS) and the median of its per-round ratios to the
first build (a round's two runs are minutes closer than two runs of separate rounds). The
claims come from bench/gen_claims.py (seed 42, as in instructions.py). `--files N` cuts them
into N files of consecutive claims (`er_prs_f_NN.csv`, under the data folder) read by a copy of
the mapping whose `files:` is a pattern: for the cost of a mapping's files one after another.
No peer: the targets' verdicts come from run_bench.py; this compares builds.
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from instructions import BENCH, KEY_ENV, KEY_VALUE, builds_parser, ensure_claims, rotated


def run(binary, argv, env):
    """Wall seconds, CPU seconds and peak RSS (MB) of one run."""
    t = time.perf_counter()
    p = subprocess.Popen([binary] + argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    stderr = p.stderr.read().decode(errors="replace") if p.stderr else ""
    if status != 0:
        raise SystemExit(f"{binary}: exit status {status}: {stderr.strip()[-400:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def split_claims(claims, files):
    """The claims of `claims` cut into `files` files of consecutive claims (each with the
    header), with the lookup's vocabulary, in a folder beside it; and a copy of the mapping (and
    its model) reading `er_prs_f_*.csv`."""
    folder = claims.parent / f"{claims.name}-in-{files}-files"
    mapping = folder / "mapping" / "claims.yaml"
    if not mapping.exists():
        (folder / "input").mkdir(parents=True, exist_ok=True)
        # Streamed, line by line: this process's peak RSS would be counted in the builds' (a
        # child's peak includes what it shared with its parent before `exec`).
        with open(claims / "er_prs_f.csv", "rb") as f:
            rows = sum(1 for _ in f) - 1
        per = -(-rows // files)
        with open(claims / "er_prs_f.csv", "rb") as f:
            header = f.readline()
            for i in range(files):
                with open(folder / "input" / f"er_prs_f_{i:02d}.csv", "wb") as o:
                    o.write(header)
                    for _ in range(per):
                        line = f.readline()
                        if not line:
                            break
                        o.write(line)
        shutil.copy(claims / "vocab.csv", folder / "input" / "vocab.csv")
        mapping.parent.mkdir(exist_ok=True)
        text = (BENCH / "claims/claims.yaml").read_text()
        text = re.sub(r"(?m)^  files: er_prs_f\.csv.*$", '  files: "er_prs_f_*.csv"', text)
        shutil.copy(BENCH / "claims/model.yaml", mapping.parent / "model.yaml")
        mapping.write_text(text)
    return folder / "input", mapping


def main():
    p = builds_parser(__doc__)
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--claims", type=int, default=1000000)
    p.add_argument("--sink", choices=["sqlite", "none"], default="sqlite")
    p.add_argument("--files", type=int, default=1, help="the claims cut into this many files")
    p.add_argument("--threads", default="auto")
    args = p.parse_args()
    claims = ensure_claims(args.data, args.claims)
    mapping = BENCH / "claims/claims.yaml"
    if args.files > 1:
        claims, mapping = split_claims(claims, args.files)
    env = dict(os.environ, **{KEY_ENV: KEY_VALUE})
    results = {b: [] for b in args.bin}
    with tempfile.TemporaryDirectory(prefix="harmonize-pairs-") as work:
        out = Path(work) / "omop.sqlite"
        argv = ["run", "--mappings", str(mapping), "--input", str(claims), "--output", str(out),
                "--key-env", KEY_ENV, "--no-progress", "--no-quality", "--sink", args.sink, "--threads", args.threads]
        for r in range(args.rounds):
            order = rotated(args.bin, r)
            if r % 2:
                order = order[::-1]
            for b in order:
                for f in Path(work).iterdir():
                    f.unlink()
                results[b].append(run(b, argv, env))
            print(f"round {r + 1}/{args.rounds}", file=sys.stderr, flush=True)
    load = os.getloadavg()[0]
    first = results[args.bin[0]]
    files = f" in {args.files} files" if args.files > 1 else ""
    print(f"{args.claims:,} claims{files}, `--sink {args.sink} --threads {args.threads}`, {args.rounds} rounds "
          f"(load average at the end {load:.2f})\n")
    print("| build | wall s (median) | CPU s | peak RSS MB | ÷ first build: wall, CPU (medians of the rounds' ratios) | walls |")
    print("|---|---:|---:|---:|---|---|")
    for b in args.bin:
        rs = results[b]
        wall = statistics.median(x[0] for x in rs)
        cpu = statistics.median(x[1] for x in rs)
        rss = statistics.median(x[2] for x in rs)
        rw = statistics.median(a[0] / c[0] for a, c in zip(rs, first))
        rc = statistics.median(a[1] / c[1] for a, c in zip(rs, first))
        walls = ", ".join(f"{x[0]:.2f}" for x in rs)
        print(f"| `{b}` | {wall:.2f} | {cpu:.2f} | {rss:.1f} | {rw:.3f}×, {rc:.3f}× | {walls} |")


if __name__ == "__main__":
    main()
