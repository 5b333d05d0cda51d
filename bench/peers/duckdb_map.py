#!/usr/bin/env python3
"""DuckDB peer: the reference claim mapping as one SQL statement into a DuckDB table.

read_csv (all VARCHAR, ';', '"' quotes) LEFT JOIN the PRS_NAT_REF rows of vocab.csv ->
CREATE TABLE claim_mapped in a DuckDB database file, with `SET threads = T`.
Same mapping as py_map.py: sha256(BEN_NIR_PSA || KEY) as hex, dd/mm/yyyy -> DATE (invalid -> NULL),
decimal comma -> DOUBLE, integers -> BIGINT (empty / invalid -> NULL), empty text -> NULL.

Usage: duckdb_map.py CLAIMS.csv VOCAB.csv OUT.duckdb [--threads T] [--key KEY]
"""
import argparse
import os
import sys

try:
    import duckdb
except ImportError:
    sys.exit("duckdb is not installed (pip install duckdb)")


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("claims")
    ap.add_argument("vocab")
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
        return f"CAST(try_strptime(NULLIF(s.{c}, ''), '%d/%m/%Y') AS DATE)"

    def integer(c):
        return f"TRY_CAST(NULLIF(s.{c}, '') AS BIGINT)"

    def text(c):
        return f"NULLIF(s.{c}, '')"

    select = ",\n  ".join([
        f"sha256(s.BEN_NIR_PSA || {sql_str(a.key)}) AS person_hash",
        f"{integer('BEN_RNG_GEM')} AS ben_rng_gem",
        f"{date('EXE_SOI_DTD')} AS exe_soi_dtd",
        f"{date('EXE_SOI_DTF')} AS exe_soi_dtf",
        f"{integer('PRS_NAT_REF')} AS prs_nat_ref",
        "v.concept_id AS concept_id",
        f"{integer('PRS_ACT_QTE')} AS prs_act_qte",
        "TRY_CAST(replace(NULLIF(s.PRS_PAI_MNT, ''), ',', '.') AS DOUBLE) AS prs_pai_mnt",
        f"{integer('PSE_SPE_COD')} AS pse_spe_cod",
        f"{text('ETB_PRE_FIN')} AS etb_pre_fin",
        f"{date('FLX_DIS_DTD')} AS flx_dis_dtd",
        f"{date('FLX_TRT_DTD')} AS flx_trt_dtd",
        f"{integer('FLX_EMT_TYP')} AS flx_emt_typ",
        f"{integer('FLX_EMT_NUM')} AS flx_emt_num",
        f"{integer('FLX_EMT_ORD')} AS flx_emt_ord",
        f"{text('ORG_CLE_NUM')} AS org_cle_num",
        f"{integer('DCT_ORD_NUM')} AS dct_ord_num",
        f"{integer('PRS_ORD_NUM')} AS prs_ord_num",
        f"{integer('REM_TYP_AFF')} AS rem_typ_aff",
    ])
    con.execute(f"""CREATE TABLE claim_mapped AS
WITH v AS (SELECT CODE AS code, CAST(CONCEPT_ID AS BIGINT) AS concept_id
           FROM {csv(a.vocab)} WHERE VOCAB = 'PRS_NAT_REF')
SELECT
  {select}
FROM {csv(a.claims)} s LEFT JOIN v ON v.code = s.PRS_NAT_REF""")
    n = con.execute("SELECT count(*) FROM claim_mapped").fetchone()[0]
    con.close()
    print(f"{n} rows")


if __name__ == "__main__":
    main()
