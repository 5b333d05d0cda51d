#!/usr/bin/env python3
"""Harmonize benchmark data: deterministic synthetic SNDS-like CSV files (stdlib only).

Writes into --out DIR (UTF-8, ';' delimiter, one header line, '\\n' or --crlf '\\r\\n'):

  ir_ben_r.csv  beneficiaries: BEN_NIR_PSA BEN_RNG_GEM BEN_SEX_COD BEN_NAI_ANN BEN_NAI_MOI
                BEN_DCD_DTE BEN_RES_DPT
  er_prs_f.csv  claims (--rows N data rows, 18 columns, see PRS_COLS)
  er_pha_f.csv  pharmacy satellite: the 9 DCIR join keys of ~40% of the claims (same order)
                + PHA_PRS_C13 (13-digit CIP13), PHA_ACT_QSN (int), PHA_ACT_PRU (decimal comma)
  vocab.csv     VOCAB;CODE;LABEL;CONCEPT_ID, 9,500 PRS_NAT_REF rows + 10,500 CIM10 rows

The bytes written are a pure function of (--rows, --seed, --bens, --crlf): each block of BLOCK
claim rows draws from its own random.Random seeded by (seed, table, block), so --jobs and
--tables never change a file's content.
"""
import argparse
import datetime
import json
import multiprocessing
import os
import random
import sys
import time

BLOCK = 40_000
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

BEN_COLS = ("BEN_NIR_PSA", "BEN_RNG_GEM", "BEN_SEX_COD", "BEN_NAI_ANN", "BEN_NAI_MOI",
            "BEN_DCD_DTE", "BEN_RES_DPT")
DCIR_KEYS = ("FLX_DIS_DTD", "FLX_TRT_DTD", "FLX_EMT_TYP", "FLX_EMT_NUM", "FLX_EMT_ORD",
             "ORG_CLE_NUM", "DCT_ORD_NUM", "PRS_ORD_NUM", "REM_TYP_AFF")
PRS_COLS = ("BEN_NIR_PSA", "BEN_RNG_GEM", "EXE_SOI_DTD", "EXE_SOI_DTF", "PRS_NAT_REF",
            "PRS_ACT_QTE", "PRS_PAI_MNT", "PSE_SPE_COD", "ETB_PRE_FIN") + DCIR_KEYS
PHA_COLS = DCIR_KEYS + ("PHA_PRS_C13", "PHA_ACT_QSN", "PHA_ACT_PRU")
VOCAB_COLS = ("VOCAB", "CODE", "LABEL", "CONCEPT_ID")
TABLES = ("ben", "prs", "pha", "vocab")

FIRST_DAY = datetime.date(2015, 1, 1)
CARE_DAYS = (datetime.date(2024, 1, 1) - FIRST_DAY).days   # care dates in 2015..2023
SPAN_DAYS = CARE_DAYS + 400                                  # end / flow dates spill into 2024-25

# département codes (metropolitan, Corsica, overseas)
DEPTS = tuple([f"{d:02d}" for d in range(1, 96) if d != 20] + ["2A", "2B", "971", "972", "973",
                                                                   "974", "976"])


def seeded(seed, table, block):
    """A Random whose stream depends only on its integer arguments (stable across Python 3.x)."""
    return random.Random((seed << 40) ^ (table << 32) ^ block)


def cum(weights):
    """Cumulative weights for random.choices(cum_weights=...)."""
    out, t = [], 0
    for w in weights:
        t += w
        out.append(t)
    return out


class World:
    """Everything shared by all blocks: date strings, beneficiaries, code pools."""

    def __init__(self, seed, bens):
        r = seeded(seed, 0, 0)   # beneficiaries and dates
        self.day = []          # day index -> 'dd/mm/yyyy'
        self.month_after = []  # day index -> first day of the following month, 'dd/mm/yyyy'
        for i in range(SPAN_DAYS):
            d = FIRST_DAY + datetime.timedelta(days=i)
            self.day.append(f"{d.day:02d}/{d.month:02d}/{d.year:04d}")
            y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
            self.month_after.append(f"01/{m:02d}/{y:04d}")
        ch = r.choices
        self.nir = ["".join(ch(ALNUM, k=17)) for _ in range(bens)]
        rr = r.random
        self.rng = ["1" if u < 0.965 else "2" if u < 0.993 else "3"
                    for u in (rr() for _ in range(bens))]
        r = seeded(seed, 4, 0)   # codes: independent of --bens, so vocab.csv depends on --seed only
        # PRS_NAT_REF: 4-digit codes; 9,500 in the vocabulary, 500 not
        codes = [f"{i:04d}" for i in range(10_000)]
        r.shuffle(codes)
        self.vocab_codes = sorted(codes[:9_500])
        self.missing_codes = codes[9_500:]
        known = codes[:9_500]
        # Zipf-like popularity among the known codes actually used (first 2,500 of the shuffle)
        self.nat_pool = known[:2_500]
        self.nat_cum = cum([1.0 / (k + 1) ** 1.1 for k in range(2_500)])
        # CIM10 codes: letter + 2 digits + optional digit, 10,500 distinct
        icd = set()
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        while len(icd) < 10_500:
            c = r.choice(letters) + f"{r.randrange(100):02d}"
            if r.random() < 0.75:
                c += str(r.randrange(10))
            icd.add(c)
        self.icd = sorted(icd)
        # FINESS (9 chars: 2-char département + 7 digits), paying bodies (ORG_CLE_NUM, 9 chars)
        self.finess = [r.choice(DEPTS)[:2] + f"{r.randrange(10_000_000):07d}" for _ in range(3_000)]
        self.org = ["01" + r.choice("CMR") + r.choice(DEPTS)[:2] + f"{r.randrange(10_000):04d}"
                    for _ in range(120)]
        # specialties 1..99, a few dominant
        self.spe = [str(i) for i in range(1, 100)]
        self.spe_cum = cum([30 if i == 1 else 8 if i in (22, 24, 34) else 1 for i in range(1, 100)])
        # CIP13 drug codes
        self.cip = ["34009" + f"{r.randrange(10 ** 8):08d}" for _ in range(5_000)]
        self.cip_cum = cum([1.0 / (k + 1) ** 0.9 for k in range(5_000)])


W = None
OPT = None


def setup(opt):
    global W, OPT
    OPT = opt
    W = World(opt.seed, opt.bens)


def quote_all(fields):
    return ";".join(f'"{f}"' if f and f[0] != '"' else f for f in fields)


def claims_block(b):
    """Rows [b*BLOCK, ...) of er_prs_f.csv and the matching er_pha_f.csv lines, as two strings."""
    o, w = OPT, W
    n = min(BLOCK, o.rows - b * BLOCK)
    r = seeded(o.seed, 2, b)
    rnd = r.random
    rint = r.randrange
    choices = r.choices
    eol = o.eol
    nb = len(w.nir)
    nir, rng, day, month_after = w.nir, w.rng, w.day, w.month_after
    nat = choices(w.nat_pool, cum_weights=w.nat_cum, k=n)
    spe = choices(w.spe, cum_weights=w.spe_cum, k=n)
    cip = choices(w.cip, cum_weights=w.cip_cum, k=n)
    missing = w.missing_codes
    finess, org = w.finess, w.org
    prs_out, pha_out = [], []
    pa, ha = prs_out.append, pha_out.append
    for i in range(n):
        u = rnd()
        ben = int(nb * u * u)                     # heavy users first
        d0 = int(CARE_DAYS * rnd())
        u = rnd()
        d1 = d0 if u < 0.75 else d0 + (1 if u < 0.85 else 2 + int(28 * rnd()))
        dt = d0 + int(50 * rnd() ** 2)            # processing date shortly after care
        code = nat[i] if rnd() >= 0.05 else missing[int(500 * rnd())]
        u = rnd()
        if u < 0.02:
            qte, sign = "-1", "-"                # regularisation line
        elif u < 0.91:
            qte, sign = "1", ""
        else:
            qte, sign = str(2 + int(12 * rnd() ** 3)), ""
        cents = int(rnd() * rnd() * 25_000)
        mnt = f"{sign}{cents // 100},{cents % 100:02d}"
        spec = "" if rnd() < 0.07 else spe[i]
        u = rnd()
        if u < 0.85:
            etb = ""
        elif u < 0.97:
            etb = finess[int(3_000 * rnd())]
        else:
            etb = '"' + finess[int(3_000 * rnd())] + '"'
        u = rnd()
        keys = (month_after[dt], day[dt],
                "1" if u < 0.7 else "2" if u < 0.85 else "3" if u < 0.95 else "5",
                str(1 + int(99 * rnd())), str(int(10_000 * rnd())), org[int(120 * rnd())],
                str(1 + rint(999_999_999)),
                "1" if rnd() < 0.8 else str(2 + int(10 * rnd())),
                "0" if rnd() < 0.7 else str(1 + int(4 * rnd())))
        row = (nir[ben], rng[ben], day[d0], day[d1], code, qte, mnt, spec, etb) + keys
        pa(quote_all(row) if rnd() < 0.03 else ";".join(row))
        if rnd() < 0.40:
            qsn = "-1" if sign else str(1 + int(3 * rnd() ** 4))
            pru = int(100 + 9_900 * rnd() ** 3)
            ha(";".join(keys + (cip[i], qsn, f"{pru // 100},{pru % 100:02d}")))
    return (eol.join(prs_out) + eol if "prs" in o.tables else "",
            eol.join(pha_out) + eol if pha_out and "pha" in o.tables else "")


def bens_block(b):
    o, w = OPT, W
    start = b * BLOCK
    n = min(BLOCK, o.bens - start)
    r = seeded(o.seed, 1, b)
    rnd = r.random
    out = []
    for k in range(start, start + n):
        u = rnd()
        sex = "1" if u < 0.48 else "2" if u < 0.995 else "9"
        dcd = w.day[int(CARE_DAYS * rnd())] if rnd() < 0.05 else ""
        row = (w.nir[k], w.rng[k], sex, str(1920 + int(105 * rnd())), f"{1 + int(12 * rnd()):02d}",
               dcd, DEPTS[int(len(DEPTS) * rnd())])
        out.append(quote_all(row) if rnd() < 0.01 else ";".join(row))
    return o.eol.join(out) + o.eol


def vocab_text(w, seed, eol):
    r = seeded(seed, 3, 0)
    kinds = ("Consultation", "Visite a domicile", "Acte technique", "Pharmacie", "Biologie",
             "Transport", "Forfait", "Majoration", "Dispositif médical", "Hospitalisation")
    lines = [";".join(VOCAB_COLS)]
    cid = 2_100_000_000
    for c in w.vocab_codes:
        label = f"{kinds[int(c) % len(kinds)]} {c}"
        if r.random() < 0.05:   # quoted label with ';' and a doubled quote
            label = '"' + label + '; dit ""' + r.choice(("hors nomenclature", "urgence", "nuit")) + '"""'
        lines.append(f"PRS_NAT_REF;{c};{label};{cid}")
        cid += 1
    for c in w.icd:
        label = f"Diagnostic {c}"
        if r.random() < 0.05:
            label = f'"{label}; ""sans precision"""'
        lines.append(f"CIM10;{c};{label};{cid}")
        cid += 1
    return eol.join(lines) + eol


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, required=True, help="claim rows in er_prs_f.csv")
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--bens", type=int, default=None, help="beneficiaries (default max(1000, rows/20))")
    ap.add_argument("--tables", default=",".join(TABLES), help="comma list of " + ",".join(TABLES))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="worker processes (never changes the output)")
    ap.add_argument("--crlf", action="store_true", help="'\\r\\n' line ends")
    o = ap.parse_args(argv)
    o.bens = o.bens if o.bens is not None else max(1000, o.rows // 20)
    o.tables = set(t.strip() for t in o.tables.split(",") if t.strip())
    bad = o.tables - set(TABLES)
    if bad:
        ap.error(f"unknown table(s): {', '.join(sorted(bad))}")
    o.eol = "\r\n" if o.crlf else "\n"
    os.makedirs(o.out, exist_ok=True)
    t0 = time.time()
    setup(o)
    pool = multiprocessing.Pool(o.jobs, setup, (o,)) if o.jobs > 1 else None
    mapper = (lambda f, it: pool.imap(f, it)) if pool else map

    def path(name):
        return os.path.join(o.out, name)

    def header(cols):
        return ";".join(cols) + o.eol

    try:
        if "vocab" in o.tables:
            with open(path("vocab.csv.part"), "w", encoding="utf-8", newline="") as f:
                f.write(vocab_text(W, o.seed, o.eol))
            os.replace(path("vocab.csv.part"), path("vocab.csv"))
        if "ben" in o.tables:
            with open(path("ir_ben_r.csv.part"), "w", encoding="utf-8", newline="") as f:
                f.write(header(BEN_COLS))
                for text in mapper(bens_block, range((o.bens + BLOCK - 1) // BLOCK)):
                    f.write(text)
            os.replace(path("ir_ben_r.csv.part"), path("ir_ben_r.csv"))
        want = [t for t in ("prs", "pha") if t in o.tables]
        if want:
            files = {t: open(path(n + ".part"), "w", encoding="utf-8", newline="", buffering=1 << 22)
                     for t, n in (("prs", "er_prs_f.csv"), ("pha", "er_pha_f.csv")) if t in want}
            if "prs" in files:
                files["prs"].write(header(PRS_COLS))
            if "pha" in files:
                files["pha"].write(header(PHA_COLS))
            for prs, pha in mapper(claims_block, range((o.rows + BLOCK - 1) // BLOCK)):
                if "prs" in files:
                    files["prs"].write(prs)
                if "pha" in files:
                    files["pha"].write(pha)
            for t, f in files.items():
                f.close()
                n = "er_prs_f.csv" if t == "prs" else "er_pha_f.csv"
                os.replace(path(n + ".part"), path(n))
    finally:
        if pool:
            pool.close()
            pool.join()
    stamp = {"generator": "harmonize bench/gen_claims.py", "rows": o.rows, "seed": o.seed, "bens": o.bens,
             "crlf": o.crlf, "files": {}}
    for n in ("vocab.csv", "ir_ben_r.csv", "er_prs_f.csv", "er_pha_f.csv"):
        if os.path.exists(path(n)):
            st = os.stat(path(n))
            stamp["files"][n] = {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
    with open(path(".gen_claims.json"), "w") as f:   # lets run_bench.py notice foreign or changed files
        json.dump(stamp, f, indent=1)
    for n in ("vocab.csv", "ir_ben_r.csv", "er_prs_f.csv", "er_pha_f.csv"):
        t = {"vocab.csv": "vocab", "ir_ben_r.csv": "ben", "er_prs_f.csv": "prs", "er_pha_f.csv": "pha"}[n]
        if t in o.tables:
            print(f"{n}: {os.path.getsize(path(n)) / 1e6:.1f} MB", file=sys.stderr)
    print(f"gen_claims: {o.rows} claims in {time.time() - t0:.1f} s -> {o.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
