//! The audit ledger: an append-only JSON-lines file, one entry per synthesis,
//! each entry naming the sha256 of the line before it.
//!
//! Beside the ledger, `<ledger>.head` holds the sequence number and hash of
//! the last entry, rewritten (atomically) after every append. The chain
//! catches edits, deletions and reordering inside the file; the head catches
//! whole entries cut off the end and an edited last entry. Someone who can
//! rewrite both files can rewrite history: anchor the head elsewhere (copy
//! it off the machine) when that matters.
//!
//! Appends hold an exclusive lock on the ledger file (`flock`), so several
//! processes can append to one ledger; each append is fsync'd before
//! [`Ledger::append`] returns.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::statement::Purpose;
use crate::time::Timestamp;
use crate::{sha256_hex, VerifiedConsent};

/// Longest ledger line accepted (entries are about 450 bytes).
pub const MAX_LINE: usize = 4096;
/// `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Ledger failures. Each tells the line (1-based) and byte offset where known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// Reading or writing failed.
    #[error("{0}")]
    Io(String),
    /// The last line has no final newline: a write was cut short (crash) or the file was cut mid-line.
    #[error("torn final line: line {line} (byte offset {offset}, {len} bytes) has no terminating newline; the last complete entry is line {}. Run `avow audit recover` to move it aside", line.saturating_sub(1))]
    TornFinalLine {
        /// Line number of the torn line.
        line: u64,
        /// Byte offset where it starts.
        offset: u64,
        /// Its length in bytes.
        len: u64,
    },
    /// A line is not a valid entry.
    #[error("line {line} (byte offset {offset}): not a valid ledger entry: {reason}")]
    BadEntry {
        /// Line number.
        line: u64,
        /// Byte offset where it starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// An entry's sequence number is not its position: entries were deleted, inserted or reordered.
    #[error("line {line}: sequence number {found}, expected {line} (entries deleted, inserted or reordered)")]
    BadSequence {
        /// Line number.
        line: u64,
        /// The sequence number found.
        found: u64,
    },
    /// An entry's `prev` is not the hash of the line before it: that line was edited.
    #[error("line {line}: `prev` does not match {}", if *line <= 1 { "the genesis value (the first entry was replaced)".to_string() } else { format!("the hash of line {} (line {} was edited, or entries replaced)", line - 1, line - 1) })]
    BrokenChain {
        /// Line number whose `prev` is wrong.
        line: u64,
    },
    /// The head file records more entries than the ledger holds.
    #[error("truncated: the head file records {head_seq} entries but the ledger holds {entries}")]
    Truncated {
        /// Entries present.
        entries: u64,
        /// Entries the head records.
        head_seq: u64,
    },
    /// The head file's hash does not match the entry it names, or the head is unreadable.
    #[error("head mismatch: {0}")]
    HeadMismatch(String),
}

impl LedgerError {
    /// The `avow audit verify` exit code for this failure (see FORMAT.md).
    pub fn exit_code(&self) -> u8 {
        match self {
            LedgerError::Io(_) => 1,
            LedgerError::BadEntry { .. } => 20,
            LedgerError::BadSequence { .. } | LedgerError::BrokenChain { .. } => 21,
            LedgerError::Truncated { .. } | LedgerError::HeadMismatch(_) => 22,
            LedgerError::TornFinalLine { .. } => 23,
        }
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> LedgerError + '_ {
    move |e| LedgerError::Io(format!("{}: {e}", path.display()))
}

/// What one synthesis leaves in the ledger (hashes, never the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// When the audio was produced.
    pub time: Timestamp,
    /// Consent record id.
    pub record_id: String,
    /// sha256 of the voice pack.
    pub pack_sha256: String,
    /// Purpose the consent was verified for.
    pub purpose: Purpose,
    /// Language the consent was verified for.
    pub language: String,
    /// sha256 of the input text (UTF-8).
    pub text_sha256: String,
    /// sha256 of the output audio bytes.
    pub audio_sha256: String,
    /// The 32-bit watermark payload embedded.
    pub watermark: u32,
}

impl LedgerEntry {
    /// The entry for one synthesis under `consent`.
    pub fn for_synthesis(consent: &VerifiedConsent, text: &str, audio: &[u8], time: Timestamp) -> Self {
        LedgerEntry {
            time,
            record_id: consent.record_id().to_string(),
            pack_sha256: consent.pack_sha256().to_string(),
            purpose: consent.purpose(),
            language: consent.language().to_string(),
            text_sha256: sha256_hex(text.as_bytes()),
            audio_sha256: sha256_hex(audio),
            watermark: consent.watermark_payload(),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    seq: u64,
    time: String,
    record_id: String,
    pack_sha256: String,
    purpose: String,
    language: String,
    text_sha256: String,
    audio_sha256: String,
    watermark: String,
    prev: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    seq: u64,
    hash: String,
}

/// Where an append landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Sequence number (line number) of the new entry.
    pub seq: u64,
    /// sha256 of the new line.
    pub hash: String,
}

/// How the head file relates to the ledger after [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadStatus {
    /// No head file: tail truncation cannot be detected.
    Missing,
    /// The head names the last entry.
    Matches,
    /// The head names the entry before the last: a crash between the append
    /// (which was fsync'd) and the head update. Not data loss.
    LagsByOne,
}

/// A ledger that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Number of entries.
    pub entries: u64,
    /// sha256 of the last line (GENESIS if empty).
    pub last_hash: String,
    /// Head file state.
    pub head: HeadStatus,
}

/// The head file path of a ledger.
pub fn head_path(ledger: &Path) -> PathBuf {
    let mut s = ledger.as_os_str().to_owned();
    s.push(".head");
    s.into()
}

/// An open ledger to append to.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    file: File,
}

impl Ledger {
    /// Opens (creating if absent) a ledger for appending. Refuses a ledger
    /// whose last line is torn, so a new entry is never glued onto it.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let file = OpenOptions::new().read(true).append(true).create(true).open(path).map_err(io_err(path))?;
        let ledger = Ledger { path: path.to_path_buf(), file };
        ledger.file.lock().map_err(io_err(path))?;
        let tail = ledger.tail();
        let _ = ledger.file.unlock();
        tail?;
        Ok(ledger)
    }

    /// The path this ledger writes to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry under an exclusive file lock, fsyncs it, then
    /// updates the head file. Returns only once the entry is on disk.
    pub fn append(&mut self, entry: &LedgerEntry) -> Result<Receipt, LedgerError> {
        self.file.lock().map_err(io_err(&self.path))?;
        let result = self.append_locked(entry);
        let _ = self.file.unlock();
        result
    }

    fn append_locked(&mut self, entry: &LedgerEntry) -> Result<Receipt, LedgerError> {
        let (seq, prev) = self.tail()?;
        let line = Line {
            seq: seq + 1,
            time: entry.time.to_string(),
            record_id: entry.record_id.clone(),
            pack_sha256: entry.pack_sha256.clone(),
            purpose: entry.purpose.as_str().to_string(),
            language: entry.language.clone(),
            text_sha256: entry.text_sha256.clone(),
            audio_sha256: entry.audio_sha256.clone(),
            watermark: format!("{:08x}", entry.watermark),
            prev,
        };
        let text = serde_json::to_string(&line).map_err(|e| LedgerError::Io(e.to_string()))?;
        if text.len() >= MAX_LINE {
            return Err(LedgerError::Io(format!("entry is {} bytes, over the {MAX_LINE} byte line limit", text.len())));
        }
        let hash = sha256_hex(text.as_bytes());
        let mut bytes = text.into_bytes();
        bytes.push(b'\n');
        // One write of the whole line: with O_APPEND and the lock held, the
        // only way to leave a partial line is a crash, which verify reports.
        self.file.write_all(&bytes).map_err(io_err(&self.path))?;
        self.file.sync_data().map_err(io_err(&self.path))?;
        write_head(&self.path, seq + 1, &hash)?;
        Ok(Receipt { seq: seq + 1, hash })
    }

    /// Sequence number and hash of the last complete entry, read from the end of the file.
    fn tail(&self) -> Result<(u64, String), LedgerError> {
        let mut f = &self.file;
        let len = f.seek(SeekFrom::End(0)).map_err(io_err(&self.path))?;
        if len == 0 {
            return Ok((0, GENESIS.to_string()));
        }
        let start = len.saturating_sub(2 * MAX_LINE as u64);
        f.seek(SeekFrom::Start(start)).map_err(io_err(&self.path))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).map_err(io_err(&self.path))?;
        if buf.last() != Some(&b'\n') {
            // Line number is unknown without a full scan; verify gives it.
            let cut = buf.iter().rposition(|&b| b == b'\n').map(|i| i + 1).unwrap_or(0);
            return Err(LedgerError::TornFinalLine { line: 0, offset: start + cut as u64, len: (buf.len() - cut) as u64 }
                .with_line_from(&self.path));
        }
        let body = &buf[..buf.len() - 1];
        let from = body.iter().rposition(|&b| b == b'\n').map(|i| i + 1);
        let from = match from {
            Some(i) => i,
            None if start == 0 => 0,
            None => {
                return Err(LedgerError::BadEntry { line: 0, offset: start, reason: "last line is too long".into() }
                    .with_line_from(&self.path))
            }
        };
        let last = &body[from..];
        let parsed: Line = serde_json::from_slice(last).map_err(|e| {
            LedgerError::BadEntry { line: 0, offset: start + from as u64, reason: format!("last entry: {e}") }
                .with_line_from(&self.path)
        })?;
        Ok((parsed.seq, sha256_hex(last)))
    }
}

impl LedgerError {
    /// Fills in the line number of an error found from the tail, by
    /// counting the newlines before its offset (0 if the file is unreadable).
    fn with_line_from(self, path: &Path) -> Self {
        let line_at = |offset: u64| {
            File::open(path).ok().map(|f| BufReader::new(f.take(offset)).split(b'\n').count() as u64 + 1).unwrap_or(0)
        };
        match self {
            LedgerError::TornFinalLine { offset, len, .. } => LedgerError::TornFinalLine { line: line_at(offset), offset, len },
            LedgerError::BadEntry { offset, reason, .. } => LedgerError::BadEntry { line: line_at(offset), offset, reason },
            other => other,
        }
    }
}

fn write_head(ledger: &Path, seq: u64, hash: &str) -> Result<(), LedgerError> {
    let head = head_path(ledger);
    let mut tmp = head.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let text = serde_json::to_string(&Head { seq, hash: hash.to_string() }).map_err(|e| LedgerError::Io(e.to_string()))? + "\n";
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(text.as_bytes()).and_then(|_| f.sync_data()).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, &head).map_err(io_err(&head))?;
    if let Some(dir) = head.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Checks a whole ledger: every line parses, sequence numbers count up from
/// 1, each `prev` is the sha256 of the line before, the last line is
/// complete, and the head file (if any) names the last entry.
pub fn verify(path: &Path) -> Result<Report, LedgerError> {
    scan(path, &mut |_| {})
}

/// Reads a ledger's entries, in order, after the same checks as [`verify`]
/// (read in one pass: the entries are exactly those the checks covered).
/// For tracing a detected watermark payload back to the consent record and
/// the syntheses it was made under.
pub fn read_verified(path: &Path) -> Result<(Report, Vec<LedgerEntry>), LedgerError> {
    let mut entries = Vec::new();
    let report = scan(path, &mut |line| entries.push(line))?;
    let entries = entries
        .into_iter()
        .enumerate()
        .map(|(i, l)| entry_of(l).ok_or_else(|| LedgerError::BadEntry { line: i as u64 + 1, offset: 0, reason: "fields do not parse".into() }))
        .collect::<Result<_, _>>()?;
    Ok((report, entries))
}

/// The entry a checked line holds (`check_fields` has passed).
fn entry_of(l: Line) -> Option<LedgerEntry> {
    Some(LedgerEntry {
        time: Timestamp::parse(&l.time)?,
        record_id: l.record_id,
        pack_sha256: l.pack_sha256,
        purpose: Purpose::parse(&l.purpose)?,
        language: l.language,
        text_sha256: l.text_sha256,
        audio_sha256: l.audio_sha256,
        watermark: u32::from_str_radix(&l.watermark, 16).ok()?,
    })
}

/// The checks of [`verify`], handing every checked line to `each`.
fn scan(path: &Path, each: &mut dyn FnMut(Line)) -> Result<Report, LedgerError> {
    let f = File::open(path).map_err(io_err(path))?;
    let mut reader = BufReader::new(f);
    let mut prev = GENESIS.to_string();
    let mut line_no = 0u64;
    let mut offset = 0u64;
    let mut hashes_tail: Vec<String> = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut reader).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if buf.last() != Some(&b'\n') {
            if buf.len() > MAX_LINE {
                return Err(LedgerError::BadEntry { line: line_no, offset, reason: format!("longer than {MAX_LINE} bytes") });
            }
            return Err(LedgerError::TornFinalLine { line: line_no, offset, len: buf.len() as u64 });
        }
        let body = &buf[..buf.len() - 1];
        let entry: Line = serde_json::from_slice(body)
            .map_err(|e| LedgerError::BadEntry { line: line_no, offset, reason: e.to_string() })?;
        check_fields(&entry).map_err(|reason| LedgerError::BadEntry { line: line_no, offset, reason })?;
        if entry.seq != line_no {
            return Err(LedgerError::BadSequence { line: line_no, found: entry.seq });
        }
        if entry.prev != prev {
            return Err(LedgerError::BrokenChain { line: line_no });
        }
        prev = sha256_hex(body);
        each(entry);
        // Keep the last two hashes: the head may lag by one.
        hashes_tail.push(prev.clone());
        if hashes_tail.len() > 2 {
            hashes_tail.remove(0);
        }
        offset += n as u64;
    }
    let head = match std::fs::read(head_path(path)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => HeadStatus::Missing,
        Err(e) => return Err(LedgerError::Io(format!("{}: {e}", head_path(path).display()))),
        Ok(bytes) => {
            let h: Head = serde_json::from_slice(&bytes)
                .map_err(|e| LedgerError::HeadMismatch(format!("head file does not parse: {e}")))?;
            if h.seq > line_no {
                return Err(LedgerError::Truncated { entries: line_no, head_seq: h.seq });
            }
            let (status, expected) = if h.seq == line_no {
                (HeadStatus::Matches, hashes_tail.last())
            } else if h.seq + 1 == line_no {
                (HeadStatus::LagsByOne, if hashes_tail.len() == 2 { hashes_tail.first() } else { None })
            } else {
                return Err(LedgerError::HeadMismatch(format!("head names entry {} but the ledger holds {line_no}", h.seq)));
            };
            let expected = expected.map(String::as_str).unwrap_or(GENESIS);
            if h.hash != expected {
                return Err(LedgerError::HeadMismatch(format!("entry {} does not hash to the head's {} (edited)", h.seq, h.hash)));
            }
            status
        }
    };
    Ok(Report { entries: line_no, last_hash: prev, head })
}

fn check_fields(e: &Line) -> Result<(), String> {
    let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    if Timestamp::parse(&e.time).is_none() {
        return Err("time is not YYYY-MM-DDTHH:MM:SSZ".into());
    }
    if !(hex64(&e.pack_sha256) && hex64(&e.text_sha256) && hex64(&e.audio_sha256) && hex64(&e.prev)) {
        return Err("a hash is not 64 lowercase hex digits".into());
    }
    if Purpose::parse(&e.purpose).is_none() {
        return Err(format!("unknown purpose `{}`", crate::dsse::clip(&e.purpose)));
    }
    if e.watermark.len() != 8 || !e.watermark.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err("watermark is not 8 hex digits".into());
    }
    Ok(())
}

/// Moves a torn final line aside into `<ledger>.torn-<offset>` and cuts the
/// ledger back to its last complete entry, so appending can resume. Returns
/// the file the torn bytes went to, or `None` if the tail was not torn.
pub fn recover_torn_tail(path: &Path) -> Result<Option<PathBuf>, LedgerError> {
    let file = OpenOptions::new().read(true).write(true).open(path).map_err(io_err(path))?;
    file.lock().map_err(io_err(path))?;
    let result = (|| {
        let mut f = &file;
        let len = f.seek(SeekFrom::End(0)).map_err(io_err(path))?;
        if len == 0 {
            return Ok(None);
        }
        let start = len.saturating_sub(MAX_LINE as u64 + 1);
        f.seek(SeekFrom::Start(start)).map_err(io_err(path))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).map_err(io_err(path))?;
        if buf.last() == Some(&b'\n') {
            return Ok(None);
        }
        let cut = match buf.iter().rposition(|&b| b == b'\n') {
            Some(i) => start + i as u64 + 1,
            None if start == 0 => 0,
            None => return Err(LedgerError::BadEntry { line: 0, offset: start, reason: "torn tail longer than a line".into() }),
        };
        let torn = &buf[(cut - start) as usize..];
        let mut aside = path.as_os_str().to_owned();
        aside.push(format!(".torn-{cut}"));
        let aside = PathBuf::from(aside);
        let mut out = OpenOptions::new().write(true).create_new(true).open(&aside).map_err(io_err(&aside))?;
        out.write_all(torn).and_then(|_| out.sync_all()).map_err(io_err(&aside))?;
        file.set_len(cut).map_err(io_err(path))?;
        file.sync_all().map_err(io_err(path))?;
        Ok(Some(aside))
    })();
    let _ = file.unlock();
    result
}
