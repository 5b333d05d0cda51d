#!/usr/bin/env python3
"""Hospital-format benchmark: Harmonize reading HL7 v2 (ORU^R01) and XML (HIS export) with the
bundled mappings, side by side in one run with Python peers doing the same extraction.

    python3 bench/run_hospital_bench.py [--oru 20000,100000] [--xml 100000,400000] [--repeat 3]
                                        [--no-build] [--shared ../shared/bench] [--data DIR] [--only …]

Data: the shared generators (`gen_oru.py N FILE`: N ORU^R01 messages with 5 OBX each;
`gen_his_xml.py N FILE`: N stays with 3 diagnoses and an act each), written once under
`--data` (default /tmp/bench-data/hospital/{oru,his}-N/…). Peers (from `--shared`, default
`../shared/bench` relative to the repository root, read-only): `py_hl7.py` (python-hl7: parse
each message, PID-3/5, every OBX-3/5), `py_lxml.py` (lxml iterparse over stays: id, patient, entry
date, every diagnosis code, clearing as it goes) and, when gcc and libxml2 headers are there,
`xml_reader_walk.c` (the libxml2 reader visiting every element and attribute) and this repository's
`peers/xml_sax_walk.c` (libxml2's SAX2 parser, one pass, callbacks that only count: the floor).
The defaults are issue 13's sizes and its medians of 3.

Harmonize runs the bundled mappings on the same files, a release build, with the public
benchmark key:
* HL7: `mappings/hospital/oru-measurement.yaml` (one record per OBX: measurement or observation);
* XML: `mappings/hospital/his-visit.yaml` + `his-condition.yaml` (stays → visits, and every
  diagnosis → a condition, reading the stay and patient through `../` paths; one parse of the
  file feeds both mappings).
Each is timed writing SQLite and with `--sink none` (everything but the writing). Every program
runs as a whole process under `/usr/bin/time -f '%e %M %U %S'` (wall s, peak RSS, CPU s = user +
system, the steadier figure on a shared machine); ratios are the peer's time ÷ the program's. Output:
Markdown tables on stdout and in bench/results/hospital-latest.md.
"""
import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
HZ_BIN = ROOT / ".build" / "release" / "harmonize-run"
KEY_ENV = "HARMONIZE_BENCH_KEY"
KEY_VALUE = "harmonize-benchmark-key-0123456789-not-a-secret"   # fixed, >= 32 bytes
WALK_BIN = BENCH / "bin" / "xml_reader_walk"
SAX_BIN = BENCH / "bin" / "xml_sax_walk"
BASELINE_BIN = None   # another build of harmonize-run (--baseline-bin), for before/after figures

PROGRAMS = {
    "hl7": ["harmonize", "harmonize-1t", "harmonize-2t", "harmonize-sink-none", "harmonize-sink-none-1t", "harmonize-sink-none-2t",
            "harmonize-baseline-1t", "harmonize-baseline-sink-none-1t", "harmonize-baseline-sink-none", "python-hl7"],
    "xml": ["harmonize", "harmonize-1t", "harmonize-2t", "harmonize-sink-none", "harmonize-sink-none-1t", "harmonize-sink-none-2t",
            "harmonize-baseline-1t", "harmonize-baseline-sink-none-1t", "harmonize-baseline-sink-none", "harmonize-parse-each-1t", "harmonize-parse-each-sink-none-1t",
            "python-lxml", "c-xml-reader-walk", "c-xml-sax-walk"],
}
LABEL = {
    ("hl7", "harmonize"): "Harmonize `oru-measurement` → SQLite",
    ("hl7", "harmonize-sink-none"): "Harmonize `oru-measurement` `--sink none`",
    ("hl7", "harmonize-1t"): "Harmonize `oru-measurement` → SQLite `--threads 1`",
    ("hl7", "harmonize-sink-none-1t"): "Harmonize `oru-measurement` `--sink none --threads 1`",
    ("hl7", "harmonize-2t"): "Harmonize `oru-measurement` → SQLite `--threads 2`",
    ("hl7", "harmonize-sink-none-2t"): "Harmonize `oru-measurement` `--sink none --threads 2`",
    ("hl7", "harmonize-baseline-1t"): "baseline build (`--baseline-bin`) → SQLite `--threads 1`",
    ("hl7", "harmonize-baseline-sink-none-1t"): "baseline build (`--baseline-bin`) `--sink none --threads 1`",
    ("hl7", "harmonize-baseline-sink-none"): "baseline build (`--baseline-bin`) `--sink none`",
    ("hl7", "python-hl7"): "Python `hl7` (`py_hl7.py`)",
    ("xml", "harmonize"): "Harmonize `his-visit` + `his-condition` → SQLite",
    ("xml", "harmonize-sink-none"): "Harmonize `his-visit` + `his-condition` `--sink none`",
    ("xml", "harmonize-1t"): "Harmonize `his-visit` + `his-condition` → SQLite `--threads 1`",
    ("xml", "harmonize-sink-none-1t"): "Harmonize `his-visit` + `his-condition` `--sink none --threads 1`",
    ("xml", "harmonize-2t"): "Harmonize `his-visit` + `his-condition` → SQLite `--threads 2`",
    ("xml", "harmonize-sink-none-2t"): "Harmonize `his-visit` + `his-condition` `--sink none --threads 2`",
    ("xml", "harmonize-baseline-1t"): "baseline build (`--baseline-bin`) → SQLite `--threads 1`",
    ("xml", "harmonize-baseline-sink-none-1t"): "baseline build (`--baseline-bin`) `--sink none --threads 1`",
    ("xml", "harmonize-baseline-sink-none"): "baseline build (`--baseline-bin`) `--sink none`",
    ("xml", "harmonize-parse-each-1t"): "Harmonize, the file parsed by each mapping (`--no-shared-parse`) → SQLite `--threads 1`",
    ("xml", "harmonize-parse-each-sink-none-1t"): "Harmonize, the file parsed by each mapping (`--no-shared-parse`) `--sink none --threads 1`",
    ("xml", "python-lxml"): "Python `lxml.etree.iterparse` (`py_lxml.py`)",
    ("xml", "c-xml-reader-walk"): "C libxml2 reader walk (`xml_reader_walk.c`)",
    ("xml", "c-xml-sax-walk"): "C libxml2 SAX2 walk, one pass (`peers/xml_sax_walk.c`)",
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def ensure_data(shared, data, kind, n):
    folder = data / f"{'oru' if kind == 'hl7' else 'his'}-{n}"
    path = folder / ("oru/oru.hl7" if kind == "hl7" else "his/his.xml")
    if not path.exists() or path.stat().st_size == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        gen = shared / ("gen_oru.py" if kind == "hl7" else "gen_his_xml.py")
        log(f"generating {path} ({n})")
        subprocess.run([sys.executable, str(gen), str(n), str(path)], check=True)
    return folder, path


def timed(argv, workdir, env=None):
    workdir.mkdir(parents=True, exist_ok=True)
    tfile, logf = workdir / "time.txt", workdir / "log.txt"
    with open(logf, "w") as lf:
        rc = subprocess.run(["/usr/bin/time", "-f", "%e %M %U %S", "-o", str(tfile)] + argv, stdout=lf,
                            stderr=subprocess.STDOUT, env=env, cwd=workdir).returncode
    try:
        wall, rss, user, system = tfile.read_text().strip().splitlines()[-1].split()
        res = (float(wall), int(rss) / 1024, float(user) + float(system))
    except (OSError, ValueError, IndexError):
        res = (float("nan"), 0.0, float("nan"))
    if rc != 0:
        tail = " | ".join(logf.read_text(errors="replace").strip().splitlines()[-3:])[-300:]
        return None, f"exit {rc}: {tail}"
    return res, logf.read_text(errors="replace").strip().splitlines()[-1:] if logf.exists() else ""


def command(kind, prog, folder, path, out, shared):
    env = dict(os.environ, **{KEY_ENV: KEY_VALUE})
    if prog.startswith("harmonize"):
        maps = (["mappings/hospital/oru-measurement.yaml"] if kind == "hl7"
                else ["mappings/hospital/his-visit.yaml", "mappings/hospital/his-condition.yaml"])
        argv = [str(BASELINE_BIN if "baseline" in prog else HZ_BIN), "run"]
        for m in maps:
            argv += ["--mappings", str(ROOT / m)]
        argv += ["--input", str(folder), "--output", str(out / "omop.sqlite"), "--key-env", KEY_ENV, "--no-progress",
                 "--no-quality", "--max-reject-rate", "1"]
        if "sink-none" in prog:
            argv += ["--sink", "none"]
        if "parse-each" in prog:
            argv += ["--no-shared-parse"]
        if prog.endswith("-1t") or prog.endswith("-2t"):
            argv += ["--threads", prog[-2]]   # default: auto, the cores (less one with a sink)
        return argv, env
    if prog == "python-hl7":
        return [sys.executable, str(shared / "py_hl7.py"), str(path)], env
    if prog == "python-lxml":
        return [sys.executable, str(shared / "py_lxml.py"), str(path)], env
    if prog == "c-xml-reader-walk":
        return [str(WALK_BIN), str(path)], env
    if prog == "c-xml-sax-walk":
        return [str(SAX_BIN), str(path)], env
    raise ValueError(prog)


def build(args, notes):
    if not args.no_build:
        log("swift build -c release --static-swift-stdlib --product harmonize-run")
        # The production build (README, "Building for production"; bench/README, "twelfth part").
        r = subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", "harmonize-run"], cwd=ROOT)
        if r.returncode != 0:
            notes.append("release build failed")
    src = args.shared / "xml_reader_walk.c"
    if src.exists() and shutil.which("gcc") and not WALK_BIN.exists():
        WALK_BIN.parent.mkdir(exist_ok=True)
        r = subprocess.run(["gcc", "-O2", "-I/usr/include/libxml2", "-o", str(WALK_BIN), str(src), "-lxml2"])
        if r.returncode != 0:
            notes.append("xml_reader_walk.c did not build: C peer skipped")
    sax = BENCH / "peers" / "xml_sax_walk.c"
    if shutil.which("gcc") and (not SAX_BIN.exists() or SAX_BIN.stat().st_mtime < sax.stat().st_mtime):
        SAX_BIN.parent.mkdir(exist_ok=True)
        r = subprocess.run(["gcc", "-O2", "-I/usr/include/libxml2", "-o", str(SAX_BIN), str(sax), "-lxml2"])
        if r.returncode != 0:
            notes.append("xml_sax_walk.c did not build: SAX floor skipped")


# Issue 13's targets: (kind, Harmonize programs, reference program, bound, what)
TARGETS = [
    ("hl7", ["harmonize", "harmonize-1t", "harmonize-2t"], "python-hl7", 30.0, "≥ 30× the Python `hl7` peer (wall) writing SQLite"),
    ("xml", ["harmonize", "harmonize-1t", "harmonize-2t"], "python-lxml", 3.0, "≥ 3× `lxml` (wall) writing SQLite"),
    ("xml", ["harmonize-sink-none", "harmonize-sink-none-1t", "harmonize-sink-none-2t"], "c-xml-sax-walk", -3.0,
     "`--sink none` ≤ 3× the libxml2 SAX2 walk (wall)"),
]
RSS_FLAT = 1.10   # peak RSS "flat between the sizes": the larger size within 10 % of the smaller


def targets(sections):
    """The PASS/FAIL table of issue 13's targets for what was timed (medians of the runs)."""
    med = {}
    rss = {}
    for kind, n, _, results in sections:
        for prog, runs in results.items():
            med[(kind, n, prog)] = statistics.median([w for w, _, _ in runs])
            rss[(kind, n, prog)] = max(r for _, r, _ in runs)
    rows = []
    for kind, progs, ref, bound, what in TARGETS:
        for n in sorted({n for k, n, _ in med if k == kind}):
            if (kind, n, ref) not in med:
                continue
            for prog in progs:
                if (kind, n, prog) not in med:
                    continue
                if bound > 0:
                    ratio = med[(kind, n, ref)] / med[(kind, n, prog)]
                    ok, shown = ratio >= bound, f"{ratio:.1f}×"
                else:
                    ratio = med[(kind, n, prog)] / med[(kind, n, ref)]
                    ok, shown = ratio <= -bound, f"{ratio:.1f}× the walk"
                rows.append(f"| {kind.upper()} {n:,} | {LABEL[(kind, prog)]} | {what} | {shown} | {'PASS' if ok else 'FAIL'} |")
    for kind in ("hl7", "xml"):
        sizes = sorted({n for k, n, _ in rss if k == kind})
        if len(sizes) < 2:
            continue
        for prog in PROGRAMS[kind]:
            if not prog.startswith("harmonize") or "baseline" in prog or not all((kind, n, prog) in rss for n in sizes):
                continue
            low, high = rss[(kind, sizes[0], prog)], rss[(kind, sizes[-1], prog)]
            ok = high <= low * RSS_FLAT
            rows.append(f"| {kind.upper()} {sizes[0]:,} → {sizes[-1]:,} | {LABEL[(kind, prog)]} | peak RSS flat (within 10 %) | "
                        f"{low:.1f} → {high:.1f} MB | {'PASS' if ok else 'FAIL'} |")
    if not rows:
        return []
    return ["## Targets (issue 13)", "", "| input | program | target | reached | |", "|---|---|---|---:|---|"] + rows + [""]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--oru", default="20000,100000", help="ORU message counts (empty: skip HL7)")
    p.add_argument("--xml", default="100000,400000", help="HIS stay counts (empty: skip XML)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "bench")
    p.add_argument("--data", type=Path, default=Path("/tmp/bench-data/hospital"))
    p.add_argument("--work", type=Path, default=Path("/tmp/bench-work/hospital"))
    p.add_argument("--only", default="", help="comma list of program ids")
    p.add_argument("--baseline-bin", type=Path, default=None,
                   help="another build of harmonize-run, timed as harmonize-baseline-1t and harmonize-baseline-sink-none-1t")
    args = p.parse_args()
    global BASELINE_BIN
    BASELINE_BIN = args.baseline_bin
    notes = []
    build(args, notes)
    only = set(filter(None, args.only.split(",")))
    load0 = os.getloadavg()[0]
    sections = []
    for kind, sizes in (("hl7", args.oru), ("xml", args.xml)):
        for n in [int(s) for s in sizes.split(",") if s]:
            folder, path = ensure_data(args.shared, args.data, kind, n)
            size_mb = path.stat().st_size / 1e6
            with open(path, "rb") as f:   # into the page cache
                while f.read(1 << 24):
                    pass
            results = {}
            for r in range(args.repeat):
                for prog in PROGRAMS[kind]:
                    if only and prog not in only:
                        continue
                    if prog == "c-xml-reader-walk" and not WALK_BIN.exists():
                        continue
                    if prog == "c-xml-sax-walk" and not SAX_BIN.exists():
                        continue
                    if "baseline" in prog and BASELINE_BIN is None:
                        continue
                    work = args.work / f"{kind}-{n}-{prog}"
                    shutil.rmtree(work, ignore_errors=True)
                    argv, env = command(kind, prog, folder, path, work, args.shared)
                    log(f"{kind} {n} {prog} (round {r + 1})")
                    res, msg = timed(argv, work, env)
                    if res is None:
                        notes.append(f"{kind} {n} {prog}: {msg}")
                    else:
                        results.setdefault(prog, []).append(res)
                    shutil.rmtree(work / "omop.sqlite", ignore_errors=True)
            sections.append((kind, n, size_mb, results))
    load1 = os.getloadavg()[0]
    lines = [f"# Harmonize hospital-format benchmark — {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC", "",
             f"* commit `{subprocess.run(['git', '-C', str(ROOT), 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()}`, "
             f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average {load0:.2f} at start, {load1:.2f} at end",
             f"* `{' '.join(sys.argv)}`", ""]
    for kind, n, size_mb, results in sections:
        unit = "ORU messages" if kind == "hl7" else "stays"
        peer = "python-hl7" if kind == "hl7" else "python-lxml"
        lines += [f"## {kind.upper()}: {n:,} {unit} ({size_mb:.1f} MB)", "",
                  "| program | wall s | MB/s | peak RSS MB | CPU s | peer wall ÷ this | peer CPU ÷ this | runs (wall s) |",
                  "|---|---:|---:|---:|---:|---:|---:|---|"]
        peer_wall = statistics.median([w for w, _, _ in results[peer]]) if peer in results else None
        peer_cpu = statistics.median([c for _, _, c in results[peer]]) if peer in results else None
        for prog in PROGRAMS[kind]:
            if prog not in results:
                continue
            walls = [w for w, _, _ in results[prog]]
            wall = statistics.median(walls)
            rss = max(r for _, r, _ in results[prog])
            cpu = statistics.median([c for _, _, c in results[prog]])
            ratio = f"{peer_wall / wall:.1f}×" if peer_wall else "–"
            cratio = f"{peer_cpu / cpu:.1f}×" if peer_cpu else "–"
            lines.append(f"| {LABEL[(kind, prog)]} | {wall:.2f} | {size_mb / wall:.0f} | {rss:.1f} | {cpu:.2f} | {ratio} | {cratio} | "
                         f"{', '.join(f'{w:.2f}' for w in walls)} |")
        lines.append("")
    lines += targets(sections)
    if notes:
        lines += ["Notes:", ""] + [f"* {x}" for x in notes] + [""]
    text = "\n".join(lines)
    print(text)
    (BENCH / "results").mkdir(exist_ok=True)
    (BENCH / "results" / "hospital-latest.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
