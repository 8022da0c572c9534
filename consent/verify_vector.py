#!/usr/bin/env python3
"""An independent check of consent/FORMAT.md: verifies consent/testdata with
nothing but the spec, Python's standard library and `cryptography` (ed25519).

    python3 consent/verify_vector.py [consent/testdata]

Prints one line per check; exits 1 on the first failure. Covers the envelope,
PAE, key ids, both signatures, the statement's strict fields, the window at a
fixed time, scope, and the pack hash. Not a full verifier (no trust dirs).
"""
import base64, binascii, hashlib, json, sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

d = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "testdata")

def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)

def no_dupes(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        fail("duplicate JSON key")
    return dict(pairs)

def b64(s):
    raw = base64.b64decode(s, validate=True)
    if base64.b64encode(raw).decode() != s:
        fail("non-canonical base64")
    return raw

def pubkey(path):
    tag, key = path.read_text().split("\n")[0].split(" ")[:2]
    if tag != "avow-ed25519-public":
        fail("public key tag")
    raw = b64(key)
    return hashlib.sha256(raw).hexdigest()[:16], Ed25519PublicKey.from_public_bytes(raw)

env = json.loads((d / "vector.consent.json").read_text(), object_pairs_hook=no_dupes)
if set(env) != {"payload", "payloadType", "signatures"}:
    fail("envelope fields")
ptype, payload = env["payloadType"], b64(env["payload"])
if ptype != "application/vnd.avow.consent+json":
    fail("payloadType")
pae = b"DSSEv1 %d %s %d " % (len(ptype.encode()), ptype.encode(), len(payload)) + payload
print("ok  PAE is", len(pae), "bytes")

st = json.loads(payload, object_pairs_hook=no_dupes)
fields = {"format", "record_id", "subject", "voice_pack", "grantee", "purposes", "languages",
          "not_before", "not_after", "issued_at", "evidence", "watermark_fingerprint"}
if set(st) != fields or st["format"] != "avow.consent/1":
    fail("statement fields or format")
print("ok  statement", st["record_id"], "fields exactly as specified")

issuer_id, issuer = pubkey(d / "issuer.pub")
subject_raw = b64(st["subject"]["public_key"])
subject_id = hashlib.sha256(subject_raw).hexdigest()[:16]
subject = Ed25519PublicKey.from_public_bytes(subject_raw)
seen = set()
for sig in env["signatures"]:
    key = {issuer_id: issuer, subject_id: subject}.get(sig["keyid"])
    if key is None:
        continue
    key.verify(b64(sig["sig"]), pae)  # raises on a bad signature
    seen.add(sig["keyid"])
    print("ok  signature by", sig["keyid"], "(issuer)" if sig["keyid"] == issuer_id else "(subject)")
if seen != {issuer_id, subject_id}:
    fail("issuer and subject signatures both required")

now = "2028-02-29T12:00:00Z"  # same-format UTC strings compare correctly as text
if not (st["not_before"] <= now < st["not_after"]):
    fail("window")
if "accessibility" not in st["purposes"] and "*" not in st["purposes"]:
    fail("purpose")
if not any(r == "*" or "ja-jp" == r.lower() or "ja-jp".startswith(r.lower() + "-") for r in st["languages"]):
    fail("language")
print("ok  in window at", now, "and in scope (accessibility, ja-JP)")

pack = (d / "vector.voicepack").read_bytes()
if hashlib.sha256(pack).hexdigest() != st["voice_pack"]["sha256"]:
    fail("pack hash")
if hashlib.sha256(st["record_id"].encode()).hexdigest()[:8] != st["watermark_fingerprint"]:
    fail("default fingerprint")
print("ok  pack sha256 and watermark fingerprint", st["watermark_fingerprint"])
print("test vector verifies")
