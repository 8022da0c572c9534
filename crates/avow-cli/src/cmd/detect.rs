//! `avow detect`: look for the avow watermark in audio files.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use avow_consent::ledger::{self, LedgerEntry};
use avow_watermark::audio::read_audio;
use avow_watermark::{Detection, Detector, Key, DEFAULT_KEY_ID, DEFAULT_THRESHOLD};

const EXIT_CODES: &str = "\
Reads WAV (8/16/24/32-bit, float) and FLAC at any sample rate and channel count.

Exit codes:
   0  every file carries the watermark
   1  usage error, or a file could not be read or analysed
   3  at least one file was analysed and carries no watermark

--json prints one JSON object per file and line: file, detected, payload (8 hex
digits or null), p_value, score, payload_confidence, crc_ok, ranges ([start, end]
seconds), duration, key, error (null unless the file failed), and with --ledger:
ledger (null without a payload, else record_ids, syntheses, first, last).

--ledger LEDGER traces a payload to the consent records and syntheses an avow
audit ledger holds for it; the ledger's hash chain is verified first and a
ledger that fails `avow audit verify` is refused (exit 1).";

/// Arguments of `avow detect`.
#[derive(clap::Args)]
#[command(after_help = EXIT_CODES)]
pub struct Args {
    /// Audio files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print one JSON object per file instead of a verdict line.
    #[arg(long)]
    json: bool,
    /// Watermark key: `avow-public-v1` (default) or a secret key as hex.
    #[arg(long, value_name = "K", default_value = DEFAULT_KEY_ID)]
    key: String,
    /// Per-file false-positive bound: report a mark only when p ≤ this.
    #[arg(long, value_name = "P", default_value_t = DEFAULT_THRESHOLD)]
    threshold: f64,
    /// Also search time-stretch and speed changes of up to ±5 % (slower on
    /// unmarked files; the p-value then accounts for the larger search).
    #[arg(long)]
    speed_search: bool,
    /// Audit ledger (JSON lines, as `avow say` and the engine write it) to
    /// trace each payload to its consent records and syntheses.
    #[arg(long, value_name = "LEDGER")]
    ledger: Option<PathBuf>,
}

/// What a verified ledger holds for one payload.
struct Trace {
    record_ids: Vec<String>,
    syntheses: usize,
    first: String,
    last: String,
}

/// Payload → what the ledger holds for it.
fn ledger_index(path: &std::path::Path) -> anyhow::Result<BTreeMap<u32, Trace>> {
    let (_, entries) = ledger::read_verified(path).with_context(|| format!("--ledger {}", path.display()))?;
    let mut index: BTreeMap<u32, Vec<LedgerEntry>> = BTreeMap::new();
    for e in entries {
        index.entry(e.watermark).or_default().push(e);
    }
    Ok(index
        .into_iter()
        .map(|(payload, es)| {
            let mut record_ids: Vec<String> = es.iter().map(|e| e.record_id.clone()).collect();
            record_ids.sort();
            record_ids.dedup();
            let first = es.iter().map(|e| e.time).min().map(|t| t.to_string()).unwrap_or_default();
            let last = es.iter().map(|e| e.time).max().map(|t| t.to_string()).unwrap_or_default();
            (payload, Trace { record_ids, syntheses: es.len(), first, last })
        })
        .collect())
}

/// Runs `avow detect`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let key = Key::parse(&args.key).context("--key")?;
    if !(args.threshold > 0.0 && args.threshold < 1.0) {
        anyhow::bail!(
            "--threshold must be between 0 and 1 (got {})",
            args.threshold
        );
    }
    let index = args.ledger.as_deref().map(ledger_index).transpose()?;
    let det = Detector::new(&key)
        .with_threshold(args.threshold)
        .with_speed_search(args.speed_search);
    let (mut failed, mut unmarked) = (false, false);
    for file in &args.files {
        let result = read_audio(file)
            .map_err(anyhow::Error::from)
            .and_then(|a| det.detect_audio(&a).map_err(anyhow::Error::from));
        let name = file.display().to_string();
        match &result {
            Ok(d) if !d.detected => unmarked = true,
            Ok(_) => {}
            Err(_) => failed = true,
        }
        if args.json {
            println!("{}", json_line(&name, key.id(), &result, index.as_ref()));
        } else {
            match &result {
                Ok(d) => println!("{name}: {}{}", verdict(d, key.id()), trace_text(d, index.as_ref())),
                Err(e) => eprintln!("{name}: error: {e:#}"),
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else if unmarked {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

fn verdict(d: &Detection, key: &str) -> String {
    if !d.detected {
        return format!("no watermark (p = {:.2e}, key {key})", d.p_value);
    }
    let payload = match d.payload {
        Some(p) => format!("payload {p:08x} (confidence {:.3})", d.payload_confidence),
        None => format!(
            "payload unreadable (bits {:08x} fail their CRC)",
            d.raw_bits
        ),
    };
    let ranges: Vec<String> = d
        .ranges
        .iter()
        .map(|r| format!("{:.2}-{:.2} s", r.0, r.1))
        .collect();
    format!(
        "WATERMARKED, {payload}, p = {:.2e}, key {key}, marked {}",
        d.p_value,
        if ranges.is_empty() {
            "(no range stands out)".to_string()
        } else {
            ranges.join(", ")
        }
    )
}

/// The ledger's part of a verdict line (empty without `--ledger` or a payload).
fn trace_text(d: &Detection, index: Option<&BTreeMap<u32, Trace>>) -> String {
    let (Some(index), Some(payload)) = (index, d.payload.filter(|_| d.detected)) else {
        return String::new();
    };
    match index.get(&payload) {
        Some(t) if t.syntheses == 1 => format!("; ledger: record {}, 1 synthesis at {}", t.record_ids.join(", "), t.first),
        Some(t) => format!("; ledger: record {}, {} syntheses from {} to {}", t.record_ids.join(", "), t.syntheses, t.first, t.last),
        None => "; ledger: no synthesis with this payload".to_string(),
    }
}

fn trace_json(d: &Detection, index: Option<&BTreeMap<u32, Trace>>) -> Option<serde_json::Value> {
    let index = index?;
    let payload = d.payload.filter(|_| d.detected)?;
    Some(match index.get(&payload) {
        Some(t) => serde_json::json!({"record_ids": t.record_ids, "syntheses": t.syntheses, "first": t.first, "last": t.last}),
        None => serde_json::json!({"record_ids": [], "syntheses": 0, "first": null, "last": null}),
    })
}

fn json_line(file: &str, key: &str, r: &anyhow::Result<Detection>, index: Option<&BTreeMap<u32, Trace>>) -> String {
    let mut v = match r {
        Ok(d) => serde_json::json!({
            "file": file,
            "detected": d.detected,
            "payload": d.payload.map(|p| format!("{p:08x}")),
            "p_value": d.p_value,
            "score": d.score,
            "payload_confidence": d.payload_confidence,
            "crc_ok": d.crc_ok,
            "ranges": d.ranges.iter().map(|r| [r.0, r.1]).collect::<Vec<_>>(),
            "duration": d.duration,
            "key": key,
            "error": serde_json::Value::Null,
        }),
        Err(e) => serde_json::json!({
            "file": file,
            "detected": false,
            "payload": serde_json::Value::Null,
            "p_value": serde_json::Value::Null,
            "ranges": [],
            "key": key,
            "error": format!("{e:#}"),
        }),
    };
    if index.is_some() {
        v["ledger"] = r.as_ref().ok().and_then(|d| trace_json(d, index)).unwrap_or(serde_json::Value::Null);
    }
    v.to_string()
}
