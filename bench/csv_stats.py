#!/usr/bin/env python3
"""Column statistics of a ';' CSV (to compare two generators' output by shape, not by bytes).

Usage: csv_stats.py DIR_A [DIR_B]   (reads er_prs_f.csv and vocab.csv of each folder)
Prints, per column: share of empty values, share of quoted values, distinct values, min/max and
mean (numbers with a decimal comma are read too), plus rows with every non-empty field quoted and
claims whose PRS_NAT_REF is absent from the PRS_NAT_REF rows of vocab.csv.
"""
import csv
import os
import sys


def stats(folder):
    vocab = set()
    with open(os.path.join(folder, "vocab.csv"), newline="", encoding="utf-8") as f:
        r = csv.reader(f, delimiter=";")
        next(r)
        for row in r:
            if row[0] == "PRS_NAT_REF":
                vocab.add(row[1])
    path = os.path.join(folder, "er_prs_f.csv")
    with open(path, newline="", encoding="utf-8") as f:
        header = f.readline().rstrip("\r\n").split(";")
        raw = f.read().splitlines()
    n = len(raw)
    cols = {h: {"empty": 0, "quoted": 0, "values": set(), "nums": []} for h in header}
    rows_quoted = 0
    for line in raw:
        # raw-level quoting: split on ';' is safe for claims (no ';' inside quotes there)
        parts = line.split(";")
        nonempty = [p for p in parts if p]
        if nonempty and all(p.startswith('"') for p in nonempty):
            rows_quoted += 1
        for h, p in zip(header, parts):
            c = cols[h]
            if p.startswith('"'):
                c["quoted"] += 1
                p = p[1:-1]
            if not p:
                c["empty"] += 1
                continue
            if len(c["values"]) < 2_000_000:
                c["values"].add(p)
            if h.endswith(("DTD", "DTF", "DTE")):
                c["nums"].append(int(p[6:10]))           # year
            else:
                try:
                    c["nums"].append(float(p.replace(",", ".")))
                except ValueError:
                    pass
    missing = sum(1 for line in raw if line.split(";")[4].strip('"') not in vocab)
    out = {"rows": n, "bytes/row": os.path.getsize(path) / max(n, 1),
           "rows fully quoted %": 100 * rows_quoted / n,
           "PRS_NAT_REF not in vocab %": 100 * missing / n, "vocab PRS_NAT_REF codes": len(vocab)}
    per_col = {}
    for h, c in cols.items():
        nums = c["nums"]
        per_col[h] = {
            "empty%": 100 * c["empty"] / n, "quoted%": 100 * c["quoted"] / n,
            "distinct": len(c["values"]),
            "min": min(nums) if nums else "", "max": max(nums) if nums else "",
            "mean": sum(nums) / len(nums) if nums else "",
            "=-1%": 100 * sum(1 for x in nums if x == -1) / n if nums else ""}
    return header, out, per_col


def fmt(x):
    if isinstance(x, float):
        return f"{x:.3f}" if abs(x) < 1000 else f"{x:.0f}"
    return str(x)


def main():
    dirs = sys.argv[1:]
    res = [stats(d) for d in dirs]
    print("| measure | " + " | ".join(dirs) + " |")
    print("|---|" + "---|" * len(dirs))
    for k in res[0][1]:
        print(f"| {k} | " + " | ".join(fmt(r[1].get(k, "")) for r in res) + " |")
    keys = ["empty%", "quoted%", "distinct", "min", "max", "mean", "=-1%"]
    print()
    print("| column | " + " | ".join(f"{k} ({i + 1})" for k in keys for i in range(len(dirs))) + " |")
    print("|---|" + "---|" * (len(keys) * len(dirs)))
    for h in res[0][0]:
        cells = []
        for k in keys:
            for r in res:
                cells.append(fmt(r[2].get(h, {}).get(k, "-")))
        print(f"| {h} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
