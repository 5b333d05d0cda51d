#!/usr/bin/env python3
"""DuckDB peer of the join benchmark: pharmacy lines joined to their claim line in one SQL statement.

read_csv of er_prs_f.csv (all VARCHAR), its claim lines grouped by the nine DCIR keys keeping the
keys found on exactly one line, JOIN read_csv of er_pha_f.csv on the nine keys -> CREATE TABLE
pha_mapped in a DuckDB database file, with `SET threads = T`.

Same join and mapping as py_pha_join.py and bench/claims/pha.yaml: keys compared as the cells'
text; a key on two claim lines (ambiguous) or absent leaves the pharmacy line out; person_hash =
sha256(BEN_NIR_PSA || KEY) as hex; dd/mm/yyyy -> DATE; decimal comma -> DOUBLE; integers ->
BIGINT; empty text -> NULL.

Usage: duckdb_pha_join.py CLAIMS.csv PHARMACY.csv OUT.duckdb [--threads T] [--key KEY]
"""
import argparse
import os
import sys

try:
    import duckdb
except ImportError:
    sys.exit("duckdb is not installed (pip install duckdb)")

KEYS = ("FLX_DIS_DTD", "FLX_TRT_DTD", "FLX_EMT_TYP", "FLX_EMT_NUM", "FLX_EMT_ORD", "ORG_CLE_NUM",
        "DCT_ORD_NUM", "PRS_ORD_NUM", "REM_TYP_AFF")


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("claims")
    ap.add_argument("pharmacy")
    ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--key", default="bench-secret-key")
    a = ap.parse_args()
    if os.path.exists(a.out):
        sys.exit(f"{a.out} exists")
    con = duckdb.connect(a.out)
    con.execute(f"SET threads = {a.threads}")

    def csv(path):
        return (f"read_csv({sql_str(path)}, delim = ';', quote = '\"', escape = '\"', "
                "header = true, all_varchar = true)")

    def date(c):
        return f"CAST(try_strptime(NULLIF({c}, ''), '%d/%m/%Y') AS DATE)"

    def integer(c):
        return f"TRY_CAST(NULLIF({c}, '') AS BIGINT)"

    def text(c):
        return f"NULLIF({c}, '')"

    keys = ", ".join(KEYS)
    select = ",\n  ".join([
        f"sha256(p.nir || {sql_str(a.key)}) AS person_hash",
        f"{integer('p.rng')} AS ben_rng_gem",
        f"{date('p.dtd')} AS drug_exposure_start_date",
        f"{text('h.PHA_PRS_C13')} AS cip13",
        f"{integer('h.PHA_ACT_QSN')} AS quantity",
        "TRY_CAST(replace(NULLIF(h.PHA_ACT_PRU, ''), ',', '.') AS DOUBLE) AS unit_price",
        f"{date('h.FLX_DIS_DTD')} AS flx_dis_dtd",
        f"{date('h.FLX_TRT_DTD')} AS flx_trt_dtd",
        f"{integer('h.FLX_EMT_TYP')} AS flx_emt_typ",
        f"{integer('h.FLX_EMT_NUM')} AS flx_emt_num",
        f"{integer('h.FLX_EMT_ORD')} AS flx_emt_ord",
        f"{text('h.ORG_CLE_NUM')} AS org_cle_num",
        f"{integer('h.DCT_ORD_NUM')} AS dct_ord_num",
        f"{integer('h.PRS_ORD_NUM')} AS prs_ord_num",
        f"{integer('h.REM_TYP_AFF')} AS rem_typ_aff",
    ])
    on = " AND ".join(f"h.{k} = p.{k}" for k in KEYS)   # '=' never matches a NULL (empty) part
    con.execute(f"""CREATE TABLE pha_mapped AS
WITH p AS (SELECT {keys}, any_value(BEN_NIR_PSA) AS nir, any_value(BEN_RNG_GEM) AS rng,
                  any_value(EXE_SOI_DTD) AS dtd
           FROM {csv(a.claims)}
           GROUP BY {keys}
           HAVING count(*) = 1)
SELECT
  {select}
FROM {csv(a.pharmacy)} h JOIN p ON {on}""")
    n = con.execute("SELECT count(*) FROM pha_mapped").fetchone()[0]
    con.close()
    print(f"{n} rows")


if __name__ == "__main__":
    main()
