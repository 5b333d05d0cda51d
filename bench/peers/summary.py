#!/usr/bin/env python3
"""Order-independent summary of a claim_mapped table (row count, per-column non-null counts,
sums of the numeric columns, min/max of the dates, distinct hashes), to compare peers' outputs.

Usage: summary.py OUT.sqlite|OUT.duckdb [...]   (DuckDB files are recognised by the .duckdb suffix)
Prints one Markdown table, one column per database.
"""
import sqlite3
import sys

INTS = ["ben_rng_gem", "prs_nat_ref", "concept_id", "prs_act_qte", "pse_spe_cod", "flx_emt_typ",
        "flx_emt_num", "flx_emt_ord", "dct_ord_num", "prs_ord_num", "rem_typ_aff"]
DATES = ["exe_soi_dtd", "exe_soi_dtf", "flx_dis_dtd", "flx_trt_dtd"]
TEXTS = ["etb_pre_fin", "org_cle_num"]


def measures():
    m = [("rows", "count(*)"), ("distinct person_hash", "count(DISTINCT person_hash)")]
    for c in INTS:
        m.append((f"sum({c})", f"sum({c})"))
    m.append(("round(sum(prs_pai_mnt), 2)", "round(sum(prs_pai_mnt), 2)"))
    for c in ["concept_id", "pse_spe_cod", "etb_pre_fin", "prs_pai_mnt"] + DATES:
        m.append((f"count({c})", f"count({c})"))
    for c in DATES:
        m.append((f"min/max({c})", f"CAST(min({c}) AS VARCHAR) || ' ' || CAST(max({c}) AS VARCHAR)"))
    m.append(("count(DISTINCT org_cle_num)", "count(DISTINCT org_cle_num)"))
    return m


def summarize(path):
    sql = "SELECT " + ", ".join(e for _, e in measures()) + " FROM claim_mapped"
    if path.endswith(".duckdb"):
        import duckdb
        con = duckdb.connect(path, read_only=True)
        row = con.execute(sql).fetchone()
    else:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        row = con.execute(sql.replace("AS VARCHAR", "AS TEXT")).fetchone()
    con.close()
    return [round(v, 2) if isinstance(v, float) else v for v in row]


def main():
    paths = sys.argv[1:]
    cols = [summarize(p) for p in paths]
    print("| measure | " + " | ".join(paths) + " | agree |")
    print("|---|" + "---|" * (len(paths) + 1))
    bad = 0
    for i, (name, _) in enumerate(measures()):
        vals = [c[i] for c in cols]
        same = all(v == vals[0] for v in vals)
        bad += not same
        print(f"| {name} | " + " | ".join(str(v) for v in vals) + f" | {'yes' if same else 'NO'} |")
    print(f"\n{bad} measure(s) differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
