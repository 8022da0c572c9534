//! Consent timings for BENCHMARKS.md (median of repeated runs):
//!
//! cargo run --release -p avow-consent --example bench

use std::time::Instant;

use avow_consent::ledger::{self, Ledger, LedgerEntry};
use avow_consent::*;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn time<F: FnMut()>(runs: usize, mut f: F) -> f64 {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect(),
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A pack the size of a real voice pack: 510 x 256 f32 plus header.
    let pack: Vec<u8> = (0..522_368u32).map(|i| (i % 251) as u8).collect();
    let issuer = SecretKey::from_seed(&[1; 32]);
    let subject = SecretKey::from_seed(&[2; 32]);
    let st = ConsentStatement {
        format: statement::CONSENT_FORMAT.into(),
        record_id: "bench".into(),
        subject: Subject { name: "Bench".into(), public_key: Some(subject.public().to_base64()) },
        voice_pack: VoicePackRef { sha256: sha256_hex(&pack), name: "bench".into() },
        grantee: "anyone".into(),
        purposes: vec!["aac".into()],
        languages: vec!["en".into()],
        not_before: "2026-01-01T00:00:00Z".into(),
        not_after: "2027-01-01T00:00:00Z".into(),
        issued_at: "2026-01-01T00:00:00Z".into(),
        evidence: Evidence { reference_recordings: vec![], consent_recording: None, statement_text: "ok".into() },
        watermark_fingerprint: default_fingerprint("bench"),
    };
    let mut env = Envelope::new(dsse::CONSENT_PAYLOAD_TYPE, st.to_payload());
    env.sign(&issuer)?;
    env.sign(&subject)?;
    let bytes = env.to_json().into_bytes();
    let mut trust = TrustStore::empty();
    trust.add(issuer.public().clone(), "bench");
    let revs = RevocationStore::empty();
    let req = VerifyRequest { purpose: Purpose::Aac, language: "en".into(), now: Timestamp::parse("2026-06-01T00:00:00Z").ok_or("time")?, grantee: None };

    let parse = time(2000, || {
        parse_record(&bytes).expect("parse");
    });
    let full = time(500, || {
        verify(&bytes, pack.clone(), &req, &trust, &revs).expect("verify");
    });
    let hash = time(500, || {
        std::hint::black_box(sha256_hex(&pack));
    });
    println!("envelope+statement parse: {parse:.1} us ({} byte record)", bytes.len());
    println!("full verify (2 signatures, {} byte pack): {full:.1} us; of which sha256 of the pack {hash:.1} us", pack.len());

    let dir = std::env::temp_dir().join(format!("avow-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("audit.jsonl");
    let mut l = Ledger::open(&path)?;
    let entry = |i: u32| LedgerEntry {
        time: Timestamp(1_800_000_000 + i64::from(i)),
        record_id: "bench".into(),
        pack_sha256: sha256_hex(&pack),
        purpose: Purpose::Aac,
        language: "en".into(),
        text_sha256: sha256_hex(&i.to_le_bytes()),
        audio_sha256: sha256_hex(&i.to_be_bytes()),
        watermark: 1,
    };
    let mut i = 0;
    let append = time(300, || {
        l.append(&entry(i)).expect("append");
        i += 1;
    });
    println!("ledger append (lock + fsync + head rename): {append:.0} us median over 300");
    for _ in 0..9_700 {
        l.append(&entry(i))?;
        i += 1;
    }
    let t = Instant::now();
    let r = ledger::verify(&path)?;
    println!("ledger verify: {} entries in {:.1} ms", r.entries, t.elapsed().as_secs_f64() * 1e3);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
