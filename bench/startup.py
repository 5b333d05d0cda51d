#!/usr/bin/env python3
"""Startup of builds of harmonize-run: the wall time of short commands, where the work before the
first record (argument parsing, the model, the mappings, opening the sink) is most of the run.

    python3 bench/startup.py --bin BEFORE --bin AFTER [--rounds 20] [--stays 100]
                             [--shared ../shared/bench] [--data /tmp/bench-data]

Each round runs every command with every build, the builds' order rotating from round to round
(so that a phase of a noisy machine falls on all of them); the table gives each build's median
and its ratio to the first build's. Commands: `--version`; `check` of the two hospital XML
mappings; a run of them over N stays without a sink; the same into SQLite. The stays come from
../shared/bench/gen_his_xml.py (as in instructions.py). No peer: this compares builds.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from instructions import KEY_ENV, KEY_VALUE, ROOT, builds_parser, ensure_stays, rotated


def main():
    p = builds_parser(__doc__)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--stays", type=int, default=100)
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "bench")
    args = p.parse_args()
    stays = ensure_stays(args.shared, args.data, args.stays)
    mappings = ["--mappings", str(ROOT / "mappings/hospital/his-visit.yaml"), "--mappings", str(ROOT / "mappings/hospital/his-condition.yaml")]
    env = dict(os.environ, **{KEY_ENV: KEY_VALUE})
    with tempfile.TemporaryDirectory(prefix="harmonize-startup-") as work:
        out = Path(work) / "omop.sqlite"
        run = ["run"] + mappings + ["--input", str(stays), "--output", str(out), "--key-env", KEY_ENV, "--no-progress", "--no-quality",
                                    "--max-reject-rate", "1"]
        commands = [
            ("`--version`", ["--version"]),
            ("`check` of the hospital mappings", ["check"] + mappings),
            (f"run of {args.stays:,} stays `--sink none`", run + ["--sink", "none"]),
            (f"run of {args.stays:,} stays → SQLite", run),
        ]
        times = {(c, b): [] for c, _ in commands for b in args.bin}
        for r in range(args.rounds):
            order = rotated(args.bin, r)
            for name, argv in commands:
                for b in order:
                    if out.exists():
                        out.unlink()
                    start = time.perf_counter()
                    done = subprocess.run([b] + argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                    elapsed = time.perf_counter() - start
                    if done.returncode != 0:
                        sys.exit(f"{b} {' '.join(argv)}: exit {done.returncode}\n{done.stderr[-2000:]}")
                    times[(name, b)].append(elapsed)
    print(f"Medians of {args.rounds} rounds (builds in rotating order), milliseconds; load average "
          f"{os.getloadavg()[0]:.2f} at the end.\n")
    print("| command | " + " | ".join(f"`{b}`" for b in args.bin) + " |")
    print("|---|" + "---:|" * len(args.bin))
    for name, _ in commands:
        ref = statistics.median(times[(name, args.bin[0])])
        cells = []
        for b in args.bin:
            m = statistics.median(times[(name, b)])
            cells.append(f"{m * 1000:.1f}" + ("" if b == args.bin[0] else f" ({m / ref:.2f}×)"))
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
