#!/usr/bin/env python3
"""Python peer: the reference claim mapping with the standard library only.

csv.reader -> per-row mapping -> sqlite3 executemany into table claim_mapped, one transaction,
journal_mode=OFF / synchronous=OFF. This is what a straightforward script looks like; it is not
tuned (dates go through datetime.strptime, as most such scripts do).

Mapping (the same in every peer): person_hash = hex(sha256(BEN_NIR_PSA || KEY)); dd/mm/yyyy dates
-> ISO 'yyyy-mm-dd' text (invalid -> NULL); PRS_PAI_MNT decimal comma -> REAL; integer columns ->
INTEGER (empty or not an integer -> NULL); concept_id = CONCEPT_ID of the vocab.csv row with
VOCAB = 'PRS_NAT_REF' and CODE = PRS_NAT_REF (NULL when absent); other empty text -> NULL.

Usage: py_map.py CLAIMS.csv VOCAB.csv OUT.db [--key KEY]     (OUT.db must not exist)
"""
import argparse
import csv
import datetime
import hashlib
import os
import sqlite3
import sys

COLUMNS = """person_hash TEXT, ben_rng_gem INTEGER, exe_soi_dtd TEXT, exe_soi_dtf TEXT,
  prs_nat_ref INTEGER, concept_id INTEGER, prs_act_qte INTEGER, prs_pai_mnt REAL,
  pse_spe_cod INTEGER, etb_pre_fin TEXT, flx_dis_dtd TEXT, flx_trt_dtd TEXT, flx_emt_typ INTEGER,
  flx_emt_num INTEGER, flx_emt_ord INTEGER, org_cle_num TEXT, dct_ord_num INTEGER,
  prs_ord_num INTEGER, rem_typ_aff INTEGER"""


def main():
    ap = argparse.ArgumentParser(description="stdlib csv + sqlite3 claim mapping")
    ap.add_argument("claims")
    ap.add_argument("vocab")
    ap.add_argument("out")
    ap.add_argument("--key", default="bench-secret-key")
    a = ap.parse_args()
    if os.path.exists(a.out):
        sys.exit(f"{a.out} exists")
    key = a.key.encode()

    concept = {}
    with open(a.vocab, newline="", encoding="utf-8") as f:
        rd = csv.reader(f, delimiter=";")
        h = next(rd)
        iv, ic, iid = h.index("VOCAB"), h.index("CODE"), h.index("CONCEPT_ID")
        for row in rd:
            if row[iv] == "PRS_NAT_REF":
                concept[row[ic]] = int(row[iid])

    strptime = datetime.datetime.strptime

    def date(s):
        if not s:
            return None
        try:
            return strptime(s, "%d/%m/%Y").date().isoformat()
        except ValueError:
            return None

    def integer(s):
        if not s:
            return None
        try:
            return int(s)
        except ValueError:
            return None

    def number(s):
        if not s:
            return None
        try:
            return float(s.replace(",", "."))
        except ValueError:
            return None

    def mapped(path):
        with open(path, newline="", encoding="utf-8") as f:
            rd = csv.reader(f, delimiter=";")
            h = next(rd)
            c = {name: i for i, name in enumerate(h)}
            (nir, rng, dtd, dtf, nat, qte, mnt, spe, etb, dis, trt, typ, enum, eord, org, dct,
             pord, rem) = (c[n] for n in (
                "BEN_NIR_PSA", "BEN_RNG_GEM", "EXE_SOI_DTD", "EXE_SOI_DTF", "PRS_NAT_REF",
                "PRS_ACT_QTE", "PRS_PAI_MNT", "PSE_SPE_COD", "ETB_PRE_FIN", "FLX_DIS_DTD",
                "FLX_TRT_DTD", "FLX_EMT_TYP", "FLX_EMT_NUM", "FLX_EMT_ORD", "ORG_CLE_NUM",
                "DCT_ORD_NUM", "PRS_ORD_NUM", "REM_TYP_AFF"))
            for r in rd:
                yield (hashlib.sha256(r[nir].encode() + key).hexdigest(), integer(r[rng]),
                       date(r[dtd]), date(r[dtf]), integer(r[nat]), concept.get(r[nat]),
                       integer(r[qte]), number(r[mnt]), integer(r[spe]), r[etb] or None,
                       date(r[dis]), date(r[trt]), integer(r[typ]), integer(r[enum]),
                       integer(r[eord]), r[org] or None, integer(r[dct]), integer(r[pord]),
                       integer(r[rem]))

    con = sqlite3.connect(a.out, isolation_level=None)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute(f"CREATE TABLE claim_mapped({COLUMNS})")
    con.execute("BEGIN")
    cur = con.executemany("INSERT INTO claim_mapped VALUES (" + ",".join("?" * 19) + ")",
                          mapped(a.claims))
    n = cur.rowcount
    con.execute("COMMIT")
    con.close()
    print(f"{n} rows")


if __name__ == "__main__":
    main()
