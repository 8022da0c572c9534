//! Load generator for `avow serve`: N clients, each sending speech requests
//! back to back for a fixed time over plain sockets, timing the first and
//! last body byte of every response. Prints a JSON report on stdout.
//!
//!   serve_load HOST:PORT [CLIENTS] [SECONDS] [FORMAT]
//!
//! A client that gets 429 or 503 waits `Retry-After` seconds before its next
//! request, as a well-behaved client would. Requests started before the end
//! of the run are finished and counted.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Short utterances of the kind a screen reader or an AAC user sends.
const TEXTS: &[&str] = &[
    "The meeting is on March 3rd, at 10:30.",
    "Could you please open the window? It is getting warm in here.",
    "I would like a cup of tea with milk, no sugar.",
    "Your next appointment is on Tuesday afternoon.",
    "Thank you for waiting. I am almost ready.",
    "Press the green button to continue.",
];

#[derive(Default)]
struct Tally {
    ok: Vec<(f64, f64, usize)>,
    statuses: std::collections::BTreeMap<u16, usize>,
    io_errors: usize,
    incomplete: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        eprintln!("usage: serve_load HOST:PORT [CLIENTS] [SECONDS] [FORMAT]");
        std::process::exit(2);
    }
    let addr = args[1].trim_start_matches("http://").to_string();
    let clients: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(8);
    let seconds: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(60);
    let format = args.get(4).cloned().unwrap_or_else(|| "pcm".into());
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (addr, format, tally) = (addr.clone(), format.clone(), Arc::clone(&tally));
            std::thread::spawn(move || {
                let mut i = c;
                while Instant::now() < end {
                    let text = TEXTS[i % TEXTS.len()];
                    i += 1;
                    let body = format!(r#"{{"model":"tts-1","input":"{text}","voice":"jf_alpha","response_format":"{format}"}}"#);
                    let outcome = request(&addr, &body);
                    let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
                    match outcome {
                        Ok(Response { status: 200, first, last, bytes, complete: true, .. }) => {
                            t.ok.push((first, last, bytes));
                            *t.statuses.entry(200).or_default() += 1;
                        }
                        Ok(Response { status: 200, .. }) => t.incomplete += 1,
                        Ok(r) => {
                            *t.statuses.entry(r.status).or_default() += 1;
                            drop(t);
                            std::thread::sleep(Duration::from_secs(r.retry_after.unwrap_or(1)));
                        }
                        Err(e) => {
                            t.io_errors += 1;
                            drop(t);
                            eprintln!("client {c}: {e}");
                            std::thread::sleep(Duration::from_millis(200));
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let wall = started.elapsed().as_secs_f64();
    let t = tally.lock().unwrap_or_else(|p| p.into_inner());
    let mut first: Vec<f64> = t.ok.iter().map(|r| r.0).collect();
    let mut last: Vec<f64> = t.ok.iter().map(|r| r.1).collect();
    let audio_s: f64 = t.ok.iter().map(|r| pcm_bytes(r.2, &format) as f64 / 2.0 / 24_000.0).sum();
    first.sort_by(f64::total_cmp);
    last.sort_by(f64::total_cmp);
    let statuses: serde_json::Map<String, serde_json::Value> = t.statuses.iter().map(|(k, v)| (k.to_string(), (*v).into())).collect();
    let report = serde_json::json!({
        "clients": clients,
        "seconds": seconds,
        "wall_s": wall,
        "format": format,
        "ok": t.ok.len(),
        "statuses": statuses,
        "io_errors": t.io_errors,
        "incomplete_streams": t.incomplete,
        "requests_per_s": t.ok.len() as f64 / wall,
        "audio_s_per_s": audio_s / wall,
        "first_byte_s": {"p50": pct(&first, 0.50), "p95": pct(&first, 0.95), "p99": pct(&first, 0.99), "max": first.last()},
        "last_byte_s": {"p50": pct(&last, 0.50), "p95": pct(&last, 0.95), "p99": pct(&last, 0.99), "max": last.last()},
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
}

/// Audio bytes in a body (a WAV body carries a 44-byte header).
fn pcm_bytes(body: usize, format: &str) -> usize {
    if format == "wav" {
        body.saturating_sub(44)
    } else {
        body
    }
}

/// Nearest-rank percentile of sorted values.
fn pct(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

struct Response {
    status: u16,
    retry_after: Option<u64>,
    /// Seconds from sending the request to the first body byte.
    first: f64,
    /// Seconds to the last body byte.
    last: f64,
    bytes: usize,
    /// The chunked body ended with its final chunk.
    complete: bool,
}

fn request(addr: &str, body: &str) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(300)))?;
    let sent = Instant::now();
    write!(stream, "POST /v1/audio/speech HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())?;
    stream.flush()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut retry_after = None;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("retry-after:") {
            retry_after = v.trim().parse().ok();
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
    }
    if !chunked {
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest)?;
        let t = sent.elapsed().as_secs_f64();
        return Ok(Response { status, retry_after, first: t, last: t, bytes: rest.len(), complete: true });
    }
    let mut first = None;
    let mut bytes = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            let t = sent.elapsed().as_secs_f64();
            return Ok(Response { status, retry_after, first: first.unwrap_or(t), last: t, bytes, complete: false });
        }
        let size = usize::from_str_radix(line.trim(), 16).map_err(|_| std::io::Error::other(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            let t = sent.elapsed().as_secs_f64();
            return Ok(Response { status, retry_after, first: first.unwrap_or(t), last: t, bytes, complete: true });
        }
        let mut chunk = vec![0u8; size + 2];
        reader.read_exact(&mut chunk)?;
        first.get_or_insert_with(|| sent.elapsed().as_secs_f64());
        bytes += size;
    }
}
