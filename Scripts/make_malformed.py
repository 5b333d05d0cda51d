#!/usr/bin/env python3
"""Writes the malformed HL7 v2 corpus under fixtures/malformed/hl7/.

Each file holds at least one message the reader must reject (with a reason code and a location),
and never makes it crash or hang. The expected reason code is the file name's prefix
(`structure-error--…`, `encoding-error--…`, `limit-exceeded--…`). Rules cited are those of
ENCODING-RULES.md (R1–R20). Run from the repository root: python3 Scripts/make_malformed.py
"""
import os

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "malformed", "hl7")
MSH = b"MSH|^~\\&|APP|FAC|RCV|RFAC|20240101||ORU^R01|1|P|2.5"
PID = b"PID|1||123^^^HOSP^PI||DOE^JOHN"
GOOD = MSH + b"\r" + PID + b"\r"

cases = {
    "structure-error--no-msh": b"PID|1||A\rOBX|1|NM|X||1\r",
    "structure-error--garbage-before-msh": b"WHOOPS this is not HL7\r" + GOOD,
    "structure-error--msh-only-id": b"MSH\r" + PID + b"\r",
    "structure-error--msh2-empty": b"MSH||APP\r" + PID + b"\r",
    "structure-error--msh2-one-char": b"MSH|^|APP\r" + PID + b"\r",
    "structure-error--msh2-three-chars": b"MSH|^~\\|APP\r" + PID + b"\r",
    "structure-error--msh2-six-chars": b"MSH|^~\\&#!|APP\r" + PID + b"\r",
    "structure-error--msh2-repeated-char": b"MSH|^^\\&|APP\r" + PID + b"\r",
    "structure-error--msh2-contains-field-sep": b"MSH#^~#&#APP\r" + PID + b"\r",
    "structure-error--msh2-letter": b"MSH|^~A&|APP\r" + PID + b"\r",
    "structure-error--msh2-space": b"MSH|^~ &|APP\r" + PID + b"\r",
    "structure-error--msh1-letter": b"MSHA^~\\&AAPP\r" + PID + b"\r",
    "structure-error--msh1-space": b"MSH ^~\\& APP\r" + PID + b"\r",
    "structure-error--msh2-multibyte-tilde": "MSH|^\u02dc\\&|APP\r".encode() + PID + b"\r",
    "structure-error--msh1-control-char": b"MSH\x01^~\\&\x01APP\r" + PID + b"\r",
    "structure-error--truncated-segment-id": MSH + b"\rPI\r",
    "structure-error--lowercase-segment": MSH + b"\rpid|1||A\r",
    "structure-error--segment-wrong-separator": MSH + b"\rPID^1||A\r",
    "structure-error--segment-id-too-long": MSH + b"\rPIDX|1||A\r",
    "structure-error--free-text-line": MSH + b"\r" + PID + b"\rthis line is a comment\r",
    "structure-error--nul-bytes": MSH + b"\r\x00\x00\x00|1\r",
    "structure-error--binary-garbage": bytes(range(1, 9)) + bytes(range(14, 28)) + b"\r" + GOOD,
    "structure-error--second-message-bad": GOOD + b"MSH|^~|X\r" + PID + b"\r",
    "structure-error--mllp-frame-no-msh": b"\x0bPID|1||A\r\x1c\r",
    "structure-error--batch-with-bad-message": b"FHS|^~\\&\rBHS|^~\\&\r" + b"MSH|\r" + PID + b"\rBTS|1\rFTS|1\r",
    "structure-error--only-separators": b"||||||\r^^^^\r",
    "structure-error--msh-delimiters-then-eof": b"MSH|^~",
    "structure-error--utf16-encoded": "MSH|^~\\&|APP\rPID|1\r".encode("utf-16"),
    "structure-error--xml-instead-of-hl7": b"<?xml version='1.0'?><ORU_R01><MSH/></ORU_R01>\n",
    "structure-error--csv-instead-of-hl7": b"id,name\n1,Doe\n",
    "encoding-error--invalid-utf8-declared": MSH + b"||||||UNICODE UTF-8\rPID|1||Ren\xe9\r",
    "encoding-error--truncated-utf8-declared": MSH + b"||||||UNICODE UTF-8\rPID|1||\xe2\x82\r",
    "encoding-error--unsupported-charset": MSH + b"||||||ISO IR87\r" + PID + b"\r",
    "limit-exceeded--huge-message": MSH + b"\rNTE|1||" + b"x" * 100_000 + b"\r",
}

os.makedirs(OUT, exist_ok=True)
for name, data in sorted(cases.items()):
    with open(os.path.join(OUT, name + ".hl7"), "wb") as f:
        f.write(data)
print(f"{len(cases)} files in {os.path.normpath(OUT)}")

# XML: read with record path /export/sejour, max depth 32, max 64 KiB of text per record.
XOUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "malformed", "xml")
HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n'
GOODREC = b'<sejour id="1"><patient ipp="1"/></sejour>'
lol = b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1)) * 10) for i in range(1, 10))
xml_cases = {
    "structure-error--unclosed-root": HEAD + b"<export>" + GOODREC,
    "structure-error--mismatched-tags": HEAD + b"<export><sejour></patient></export>",
    "structure-error--unquoted-attribute": HEAD + b"<export><sejour id=1/></export>",
    "structure-error--duplicate-attribute": HEAD + b'<export><sejour id="1" id="2"/></export>',
    "structure-error--two-roots": HEAD + b"<export/><export/>",
    "structure-error--text-after-root": HEAD + b"<export/>garbage",
    "structure-error--control-char": HEAD + b"<export><sejour>\x01</sejour></export>",
    "structure-error--invalid-utf8": HEAD + b"<export><sejour>\xff\xfe</sejour></export>",
    "structure-error--undeclared-entity": HEAD + b"<export><sejour>&nope;</sejour></export>",
    "structure-error--lt-in-attribute": HEAD + b'<export><sejour id="a<b"/></export>',
    "structure-error--unterminated-comment": HEAD + b"<export><!-- never closed",
    "structure-error--unterminated-cdata": HEAD + b"<export><sejour><![CDATA[never closed",
    "structure-error--unterminated-pi": HEAD + b"<export><?pi never closed",
    "structure-error--xxe-local-file": HEAD + b'<!DOCTYPE export [<!ENTITY x SYSTEM "file:///etc/passwd">]><export><sejour>&x;</sejour></export>',
    "structure-error--xxe-loopback-url": HEAD + b'<!DOCTYPE export [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><export><sejour>&x;</sejour></export>',
    "structure-error--billion-laughs": HEAD + b'<!DOCTYPE export [<!ENTITY lol0 "lol">' + lol + b']><export><sejour>&lol9;</sejour></export>',
    "structure-error--quadratic-blowup": HEAD + b'<!DOCTYPE export [<!ENTITY a "' + b"x" * 50000 + b'">]><export><sejour>' + b"&a;" * 2000 + b"</sejour></export>",
    "structure-error--parameter-entity": HEAD + b'<!DOCTYPE export [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]><export/>',
    "structure-error--internal-entity": HEAD + b'<!DOCTYPE export [<!ENTITY e "value">]><export><sejour>&e;</sejour></export>',
    "structure-error--empty-file": b"",
    "structure-error--only-declaration": HEAD,
    "structure-error--truncated-in-attribute": HEAD + b'<export><sejour id="12',
    "structure-error--nul-char-reference": HEAD + b"<export><sejour>&#0;</sejour></export>",
    "structure-error--surrogate-char-reference": HEAD + b"<export><sejour>&#xD800;</sejour></export>",
    "structure-error--attribute-without-value": HEAD + b"<export><sejour id></sejour></export>",
    "structure-error--name-starts-with-digit": HEAD + b"<export><1sejour/></export>",
    "structure-error--empty-end-tag": HEAD + b"<export><sejour></></export>",
    "structure-error--only-comment": HEAD + b"<!-- no root -->",
    "structure-error--bad-declaration": b'<?xml version="1.0" encoding="UTF-8"?><?xml version="1.0"?><export/>',
    "structure-error--not-xml-at-all": b"id,name\n1,Doe\n",
    "structure-error--hl7-instead-of-xml": b"MSH|^~\\&|APP\rPID|1\r",
    "structure-error--ampersand-in-text": HEAD + b"<export><sejour>a & b</sejour></export>",
    "limit-exceeded--deep-record": HEAD + b"<export><sejour>" + b"<a>" * 40 + b"</a>" * 40 + b"</sejour></export>",
    "limit-exceeded--large-text": HEAD + b"<export><sejour>" + b"x" * 70000 + b"</sejour></export>",
}
os.makedirs(XOUT, exist_ok=True)
for name, data in sorted(xml_cases.items()):
    with open(os.path.join(XOUT, name + ".xml"), "wb") as f:
        f.write(data)
print(f"{len(xml_cases)} files in {os.path.normpath(XOUT)}")
