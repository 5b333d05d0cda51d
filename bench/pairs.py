#!/usr/bin/env python3
"""Builds of harmonize-run side by side on the claims, in rotating rounds: for changes whose effect
on the wall time is smaller than this machine's swings from one minute to the next.

    python3 bench/pairs.py --bin BEFORE --bin AFTER [--rounds 12] [--claims 1000000]
                           [--sink sqlite|none] [--data /tmp/bench-data]

Each round runs `bench/claims/claims.yaml` once with every build, the builds' order rotating (and
reversed every other round) so that a slow phase of the machine falls on all of them; the table
gives each build's medians (wall, CPU, peak RSS) and the median of its per-round ratios to the
first build (a round's two runs are minutes closer than two runs of separate rounds). The
claims come from bench/gen_claims.py (seed 42, as in instructions.py). No peer: the targets'
verdicts come from run_bench.py; this compares builds.
"""
import os
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


def main():
    p = builds_parser(__doc__)
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--claims", type=int, default=1000000)
    p.add_argument("--sink", choices=["sqlite", "none"], default="sqlite")
    args = p.parse_args()
    claims = ensure_claims(args.data, args.claims)
    env = dict(os.environ, **{KEY_ENV: KEY_VALUE})
    results = {b: [] for b in args.bin}
    with tempfile.TemporaryDirectory(prefix="harmonize-pairs-") as work:
        out = Path(work) / "omop.sqlite"
        argv = ["run", "--mappings", str(BENCH / "claims/claims.yaml"), "--input", str(claims), "--output", str(out),
                "--key-env", KEY_ENV, "--no-progress", "--no-quality", "--sink", args.sink]
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
    print(f"{args.claims:,} claims, `--sink {args.sink}`, {args.rounds} rounds (load average at the end {load:.2f})\n")
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
