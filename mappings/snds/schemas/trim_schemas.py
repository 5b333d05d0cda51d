#!/usr/bin/env python3
import json, csv, os
# Rewrites the trimmed schemas from the reference copy of indsante/schema-snds (not needed by the
# tests or CI: the output is committed). Usage: python3 mappings/snds/schemas/trim_schemas.py SRC
# where SRC is the `schemas/` folder of indsante/schema-snds at the commit below.
import sys
SRC=sys.argv[1] if len(sys.argv) > 1 else '/work/shared/reference/snds/schemas'
OUT='mappings/snds/schemas'
IN='fixtures/snds/input'
tables = {
 'IR_BEN_R':('BENEFICIAIRE/IR_BEN_R.json','IR_BEN_R.csv'),
 'ER_PRS_F':('DCIR/ER_PRS_F.json','ER_PRS_F.csv'),
 'ER_PHA_F':('DCIR/ER_PHA_F.json','ER_PHA_F.csv'),
 'ER_CAM_F':('DCIR/ER_CAM_F.json','ER_CAM_F.csv'),
 'ER_BIO_F':('DCIR/ER_BIO_F.json','ER_BIO_F.csv'),
 'ER_ETE_F':('DCIR/ER_ETE_F.json','ER_ETE_F.csv'),
 'IR_IMB_R':('DCIR_DCIRS/IR_IMB_R.json','IR_IMB_R.csv'),
 'T_MCOaaB':('PMSI_MCO/T_MCOaaB.json','T_MCO23B.csv'),
 'T_MCOaaC':('PMSI_MCO/T_MCOaaC.json','T_MCO23C.csv'),
 'T_MCOaaD':('PMSI_MCO/T_MCOaaD.json','T_MCO23D.csv'),
 'T_MCOaaA':('PMSI_MCO/T_MCOaaA.json','T_MCO23A.csv'),
}
for name,(src,fixture) in tables.items():
    d=json.load(open(os.path.join(SRC,src)))
    cols=open(os.path.join(IN,fixture),encoding='latin-1').readline().strip().split(';')
    byname={f['name']:f for f in d['fields']}
    fields=[]; changes=[]
    for c in cols:
        f=dict(byname[c])
        for k in ('dateCreated','dateDeleted','dateMissing'):
            f.pop(k,None)
        t=f.get('type')
        if t=='date' and f.get('format') in (None,'default'):
            f['format']='%d/%m/%Y'; changes.append(c+': date format %d/%m/%Y (the extract\'s)')
        if t=='number':
            f['decimalChar']=','; changes.append(c+': decimalChar ","')
        if c in ('BEN_NAI_MOI','SOR_MOI'):
            f['type']='integer'; f.pop('format',None); changes.append(c+': integer (the source declares a date with format %m, which has no year); 00 = unknown')
        if c.endswith('_RET'):
            if t!='string' or 'constraints' in f:
                f['type']='string'; f.pop('constraints',None); changes.append(c+': string without constraints (a linkage return code, compared with \'0\' by the mappings\' filters, so that a code other than 0 is filtered, not rejected)')
        if c=='PRS_ACT_QTE':
            f['constraints'].pop('minimum',None); changes.append(c+': no minimum (regularisation lines carry negative quantities)')
        if c=='BEN_NIR_PSA' and name=='IR_BEN_R':
            f['constraints'].pop('unique',None); f['constraints'].pop('description',None); changes.append(c+': not unique (twins share it and differ by BEN_RNG_GEM, as the source\'s own note on the constraint says)')
        if c in ('ETA_NUM','RSA_NUM') and t!='string':
            f['type']='string'; f.pop('format',None); f.pop('constraints',None); changes.append(c+': string, without constraints (the same type in every PMSI table, so stay keys compare equal' + ('; FINESS numbers of Corsica start with 2A/2B)' if c=='ETA_NUM' else ')'))
        fields.append(f)
    out={
      'name': d.get('name'), 'title': d.get('title'), 'produit': d.get('produit'),
      'x-harmonize-source': 'indsante/schema-snds (mirror of healthdatahub/schema-snds), commit fe17ef8348aeb74f38c29016f49e65f82a6168b6, file schemas/'+src.replace('PMSI_MCO','PMSI/PMSI MCO').replace('DCIR_DCIRS','DCIR_DCIRS'),
      'x-harmonize-licence': 'Mozilla Public License 2.0 (SPDX-License-Identifier: MPL-2.0), as the source repository; modified copy, see mappings/snds/schemas/README.md',
      'x-harmonize-changes': ['trimmed to the fields of fixtures/snds/input/'+fixture+' (in its column order)'] + changes,
      'missingValues': d.get('missingValues',['']),
    }
    pk=d.get('primaryKey')
    if pk and all(k in cols for k in pk):
        out['primaryKey']=pk
    out['fields']=fields
    json.dump(out, open(os.path.join(OUT,name+'.json'),'w'), ensure_ascii=False, indent=2)
    open(os.path.join(OUT,name+'.json'),'a').write('\n')
    print(name, len(fields), changes[:3])
