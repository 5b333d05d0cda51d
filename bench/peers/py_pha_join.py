#!/usr/bin/env python3
"""Python peer of the join benchmark: pharmacy lines joined to their claim line, stdlib only.

csv.reader over er_prs_f.csv -> dict from the nine DCIR keys to (BEN_NIR_PSA, BEN_RNG_GEM,
EXE_SOI_DTD); csv.reader over er_pha_f.csv -> look each line's keys up -> sqlite3 executemany into
table pha_mapped, one transaction, journal_mode=OFF / synchronous=OFF. A straightforward script,
not tuned (dates through datetime.strptime, as py_map.py).

Join (the same in every peer, and as bench/claims/pha.yaml): the key is the text of the nine cells
FLX_DIS_DTD, FLX_TRT_DTD, FLX_EMT_TYP, FLX_EMT_NUM, FLX_EMT_ORD, ORG_CLE_NUM, DCT_ORD_NUM,
PRS_ORD_NUM, REM_TYP_AFF; a key with an empty cell matches nothing; a key present on two claim
lines is ambiguous and its pharmacy lines are left out, as are pharmacy lines without a claim line.

Mapping: person_hash = hex(sha256(BEN_NIR_PSA || KEY)); ben_rng_gem INTEGER;
drug_exposure_start_date = EXE_SOI_DTD of the claim line as ISO 'yyyy-mm-dd' text; cip13 =
PHA_PRS_C13 as text; quantity = PHA_ACT_QSN INTEGER; unit_price = PHA_ACT_PRU decimal comma ->
REAL; the nine keys of the pharmacy line (dates ISO, integers INTEGER, ORG_CLE_NUM text). Empty
or invalid -> NULL.

Usage: py_pha_join.py CLAIMS.csv PHARMACY.csv OUT.db [--key KEY]     (OUT.db must not exist)
"""
import argparse
import csv
import datetime
import hashlib
import os
import sqlite3
import sys

KEYS = ("FLX_DIS_DTD", "FLX_TRT_DTD", "FLX_EMT_TYP", "FLX_EMT_NUM", "FLX_EMT_ORD", "ORG_CLE_NUM",
        "DCT_ORD_NUM", "PRS_ORD_NUM", "REM_TYP_AFF")
COLUMNS = """person_hash TEXT, ben_rng_gem INTEGER, drug_exposure_start_date TEXT, cip13 TEXT,
  quantity INTEGER, unit_price REAL, flx_dis_dtd TEXT, flx_trt_dtd TEXT, flx_emt_typ INTEGER,
  flx_emt_num INTEGER, flx_emt_ord INTEGER, org_cle_num TEXT, dct_ord_num INTEGER,
  prs_ord_num INTEGER, rem_typ_aff INTEGER"""
AMBIGUOUS = object()


def main():
    ap = argparse.ArgumentParser(description="stdlib csv + dict + sqlite3 pharmacy join")
    ap.add_argument("claims")
    ap.add_argument("pharmacy")
    ap.add_argument("out")
    ap.add_argument("--key", default="bench-secret-key")
    a = ap.parse_args()
    if os.path.exists(a.out):
        sys.exit(f"{a.out} exists")
    key = a.key.encode()

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

    # the claim lines, indexed by their nine keys (one string: the cells joined by ';')
    index = {}
    ambiguous = 0
    with open(a.claims, newline="", encoding="utf-8") as f:
        rd = csv.reader(f, delimiter=";")
        h = next(rd)
        c = {name: i for i, name in enumerate(h)}
        k = [c[n] for n in KEYS]
        nir, rng, dtd = c["BEN_NIR_PSA"], c["BEN_RNG_GEM"], c["EXE_SOI_DTD"]
        for r in rd:
            cells = [r[i] for i in k]
            if not all(cells):
                continue                      # a key with an empty part matches nothing
            kk = ";".join(cells)
            if kk in index:
                if index[kk] is not AMBIGUOUS:
                    index[kk] = AMBIGUOUS
                    ambiguous += 1
                continue
            index[kk] = (r[nir], r[rng], r[dtd])

    stats = {"missing": 0, "ambiguous": 0}

    def mapped(path):
        with open(path, newline="", encoding="utf-8") as f:
            rd = csv.reader(f, delimiter=";")
            h = next(rd)
            c = {name: i for i, name in enumerate(h)}
            k = [c[n] for n in KEYS]
            dis, trt, typ, enum, eord, org, dct, pord, rem = k
            cip, qsn, pru = c["PHA_PRS_C13"], c["PHA_ACT_QSN"], c["PHA_ACT_PRU"]
            for r in rd:
                cells = [r[i] for i in k]
                p = index.get(";".join(cells)) if all(cells) else None
                if p is None:
                    stats["missing"] += 1
                    continue
                if p is AMBIGUOUS:
                    stats["ambiguous"] += 1
                    continue
                yield (hashlib.sha256(p[0].encode() + key).hexdigest(), integer(p[1]), date(p[2]),
                       r[cip] or None, integer(r[qsn]), number(r[pru]),
                       date(r[dis]), date(r[trt]), integer(r[typ]), integer(r[enum]),
                       integer(r[eord]), r[org] or None, integer(r[dct]), integer(r[pord]),
                       integer(r[rem]))

    con = sqlite3.connect(a.out, isolation_level=None)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute(f"CREATE TABLE pha_mapped({COLUMNS})")
    con.execute("BEGIN")
    cur = con.executemany("INSERT INTO pha_mapped VALUES (" + ",".join("?" * 15) + ")",
                          mapped(a.pharmacy))
    n = cur.rowcount
    con.execute("COMMIT")
    con.close()
    print(f"{n} rows; {len(index)} claim keys indexed ({ambiguous} ambiguous); pharmacy lines left out: "
          f"{stats['missing']} without claim line, {stats['ambiguous']} ambiguous")


if __name__ == "__main__":
    main()
