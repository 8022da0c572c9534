//! SubRip (`.srt`) and WebVTT (`.vtt`) parsing into plain spoken lines.
//!
//! What a dubbing voice should say is the cue's words and nothing else, so
//! styling (`<i>`, `<font>`, `<c.yellow>`, `<v Speaker>`, `{\an8}`), cue
//! settings and positions, ruby readings, karaoke timestamps, sound
//! descriptions in square brackets, music notes and leading dialogue
//! dashes are removed, entities are decoded and the lines of a cue are
//! joined with spaces.
//!
//! Damaged files are read as far as they make sense: a cue with a bad
//! timestamp, an end before its start, no words, or too many words is
//! skipped and recorded in [`Subtitles::skipped`] with its line number; a
//! missing blank line between cues is tolerated (a timing line always
//! starts a cue). Whole-file problems (too big, not text, a `.vtt` without
//! its `WEBVTT` header, no usable cue at all) are a [`SubsError`]. Cues are
//! returned sorted by start time; out-of-order and overlapping cues are
//! counted and listed.

use std::path::{Path, PathBuf};

/// Largest subtitle file accepted (a feature film is about 100 KB).
pub const MAX_FILE_BYTES: usize = 8 << 20;
/// Most cues accepted in one file.
pub const MAX_CUES: usize = 50_000;
/// Longest cue text accepted, in characters after cleaning (a subtitle
/// shows two lines of about 42 characters; this leaves room for unusual
/// files while refusing pasted prose).
pub const MAX_CUE_CHARS: usize = 1_000;

/// The two subtitle formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// SubRip.
    Srt,
    /// WebVTT.
    Vtt,
}

/// One spoken line with its time slot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Cue {
    /// Position of the cue in the file, counting from 1 (before sorting),
    /// including skipped cues, so it matches what an editor shows.
    pub number: usize,
    /// The cue's identifier (the SRT counter or the VTT cue id), if any.
    pub id: Option<String>,
    /// Start, in milliseconds.
    pub start_ms: u64,
    /// End, in milliseconds (after `start_ms`).
    pub end_ms: u64,
    /// The words to speak.
    pub text: String,
    /// Line of the timing line in the file, counting from 1.
    pub line: usize,
}

/// A cue that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// Line in the file, counting from 1.
    pub line: usize,
    /// Why it was skipped.
    pub reason: String,
}

/// A parsed subtitle file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Subtitles {
    /// Which format the file was.
    pub format: Format,
    /// Usable cues, sorted by start time (then end time, then file order).
    pub cues: Vec<Cue>,
    /// Cues that were left out.
    pub skipped: Vec<Skipped>,
    /// Cues that started before the cue preceding them in the file.
    pub out_of_order: usize,
    /// Pairs of cue numbers (in start order) whose time slots overlap.
    pub overlaps: Vec<(usize, usize)>,
}

/// Why a subtitle file could not be used at all.
#[derive(Debug, thiserror::Error)]
pub enum SubsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("subtitle file is over {limit} bytes; split it")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// More cues than [`MAX_CUES`].
    #[error("more than {limit} cues; split the file")]
    TooManyCues {
        /// The limit.
        limit: usize,
    },
    /// The bytes are not text in a supported encoding.
    #[error("not a text file in UTF-8 or UTF-16: {0}")]
    Encoding(String),
    /// A `.vtt` file lacks the `WEBVTT` header.
    #[error("a WebVTT file must start with `WEBVTT` (line 1 is `{first_line}`)")]
    NotWebVtt {
        /// What line 1 held (shortened).
        first_line: String,
    },
    /// Nothing left to speak.
    #[error("no usable cues ({} skipped{})", skipped.len(), skipped.first().map(|s| format!("; first at line {}: {}", s.line, s.reason)).unwrap_or_default())]
    NoCues {
        /// Every cue that was left out.
        skipped: Vec<Skipped>,
    },
}

/// Reads and parses a subtitle file; the format comes from the content
/// (`WEBVTT` header) and, for a header-less file, the `.vtt` extension
/// (which then is an error).
pub fn read_file(path: &Path) -> Result<Subtitles, SubsError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|source| SubsError::Io { path: path.to_path_buf(), source })?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| SubsError::Io { path: path.to_path_buf(), source })?;
    let vtt_name = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("vtt"));
    parse_bytes(&bytes, vtt_name)
}

/// Parses subtitle bytes; `expect_vtt` says the name claims WebVTT.
pub fn parse_bytes(bytes: &[u8], expect_vtt: bool) -> Result<Subtitles, SubsError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(SubsError::TooLarge { limit: MAX_FILE_BYTES });
    }
    let text = decode(bytes)?;
    parse_str(&text, expect_vtt)
}

/// Parses subtitle text (any line endings, optional BOM).
pub fn parse_str(text: &str, expect_vtt: bool) -> Result<Subtitles, SubsError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(SubsError::TooLarge { limit: MAX_FILE_BYTES });
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = split_lines(text);
    let is_vtt = lines.first().is_some_and(|l| is_vtt_header(l));
    if expect_vtt && !is_vtt {
        let first: String = lines.first().map(|l| l.chars().take(40).collect()).unwrap_or_default();
        return Err(SubsError::NotWebVtt { first_line: first });
    }
    let format = if is_vtt { Format::Vtt } else { Format::Srt };
    let (mut cues, skipped) = parse_blocks(&lines, format)?;
    if cues.is_empty() {
        return Err(SubsError::NoCues { skipped });
    }
    let out_of_order = cues.windows(2).filter(|w| w[1].start_ms < w[0].start_ms).count();
    cues.sort_by_key(|c| (c.start_ms, c.end_ms, c.number));
    let overlaps = cues.windows(2).filter(|w| w[1].start_ms < w[0].end_ms).map(|w| (w[0].number, w[1].number)).collect();
    Ok(Subtitles { format, cues, skipped, out_of_order, overlaps })
}

fn decode(bytes: &[u8]) -> Result<String, SubsError> {
    let utf16 = |units: Vec<u16>| String::from_utf16(&units).map_err(|_| SubsError::Encoding("invalid UTF-16".into()));
    if let Some(rest) = bytes.strip_prefix(&[0xff, 0xfe]) {
        return utf16(rest.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect());
    }
    if let Some(rest) = bytes.strip_prefix(&[0xfe, 0xff]) {
        return utf16(rest.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect());
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        SubsError::Encoding(format!("invalid UTF-8 at byte {} (convert the file to UTF-8)", e.valid_up_to()))
    })?;
    if text.contains('\0') {
        return Err(SubsError::Encoding("the file holds NUL bytes (binary data?)".into()));
    }
    Ok(text.to_string())
}

/// Splits on `\r\n`, `\n` or a lone `\r`.
fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['\r', '\n']) {
        lines.push(&rest[..i]);
        let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[i + skip..];
    }
    if !rest.is_empty() {
        lines.push(rest);
    }
    lines
}

fn is_vtt_header(line: &str) -> bool {
    line.strip_prefix("WEBVTT").is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

fn is_timing(line: &str) -> bool {
    line.contains("-->")
}

/// Walks the file block by block. A block is: an optional identifier line,
/// a timing line, text lines up to a blank line or the next timing line.
fn parse_blocks(lines: &[&str], format: Format) -> Result<(Vec<Cue>, Vec<Skipped>), SubsError> {
    let mut cues = Vec::new();
    let mut skipped = Vec::new();
    let mut i = 0;
    let mut number = 0;
    if format == Format::Vtt {
        // The header block runs to the first blank line.
        while i < lines.len() && !is_blank(lines[i]) {
            i += 1;
        }
    }
    while i < lines.len() {
        if is_blank(lines[i]) {
            i += 1;
            continue;
        }
        if format == Format::Vtt && is_vtt_metadata_block(lines[i]) {
            while i < lines.len() && !is_blank(lines[i]) {
                i += 1;
            }
            continue;
        }
        let mut id = None;
        if !is_timing(lines[i]) {
            if i + 1 < lines.len() && is_timing(lines[i + 1]) {
                id = Some(lines[i].trim().to_string());
                i += 1;
            } else {
                // Text with no timing line above it: a damaged block.
                let line = i + 1;
                while i < lines.len() && !is_blank(lines[i]) && !is_timing(lines[i]) {
                    i += 1;
                }
                skipped.push(Skipped { line, reason: "text without a timing line".into() });
                continue;
            }
        }
        let timing_line = i + 1;
        let timing = parse_timing(lines[i]);
        i += 1;
        let mut text_lines: Vec<&str> = Vec::new();
        while i < lines.len() && !is_blank(lines[i]) && !is_timing(lines[i]) {
            text_lines.push(lines[i]);
            i += 1;
        }
        // A missing blank line: the next cue's counter (SRT: digits) or id
        // (VTT: any line, if the cue keeps one) was read as text.
        if i < lines.len() && is_timing(lines[i]) {
            let id_like = match (format, text_lines.last()) {
                (Format::Srt, Some(last)) => last.trim().bytes().all(|b| b.is_ascii_digit()),
                (Format::Vtt, Some(_)) => text_lines.len() > 1,
                (_, None) => false,
            };
            if id_like {
                i -= 1;
                text_lines.pop();
            }
        }
        number += 1;
        if number > MAX_CUES {
            return Err(SubsError::TooManyCues { limit: MAX_CUES });
        }
        let (start_ms, end_ms) = match timing {
            Ok(t) => t,
            Err(reason) => {
                skipped.push(Skipped { line: timing_line, reason });
                continue;
            }
        };
        if end_ms <= start_ms {
            skipped.push(Skipped { line: timing_line, reason: "the cue ends before it starts".into() });
            continue;
        }
        let text = clean_text(&text_lines);
        if text.is_empty() {
            skipped.push(Skipped { line: timing_line, reason: "the cue has no words to speak".into() });
            continue;
        }
        let chars = text.chars().count();
        if chars > MAX_CUE_CHARS {
            skipped.push(Skipped { line: timing_line, reason: format!("the cue has {chars} characters; at most {MAX_CUE_CHARS}") });
            continue;
        }
        cues.push(Cue { number, id, start_ms, end_ms, text, line: timing_line });
    }
    Ok((cues, skipped))
}

fn is_vtt_metadata_block(line: &str) -> bool {
    ["NOTE", "STYLE", "REGION"].iter().any(|k| line.strip_prefix(k).is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t'])))
}

/// `start --> end [settings]`.
fn parse_timing(line: &str) -> Result<(u64, u64), String> {
    let (left, right) = line.split_once("-->").ok_or_else(|| "no `-->` in the timing line".to_string())?;
    let start = parse_timestamp(left.trim()).map_err(|e| format!("bad start time `{}`: {e}", left.trim()))?;
    // Cue settings (VTT) or coordinates (SRT) follow the end time.
    let end_text = right.split_whitespace().next().unwrap_or("");
    let end = parse_timestamp(end_text).map_err(|e| format!("bad end time `{end_text}`: {e}"))?;
    Ok((start, end))
}

/// `[H…:]MM:SS[,.]mmm` to milliseconds. Both separators are accepted in
/// both formats (files in the wild mix them); the fraction may have 1–3
/// digits.
fn parse_timestamp(s: &str) -> Result<u64, String> {
    let (clock, frac) = match s.rfind([',', '.']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    let digits = |t: &str, what: &str, max_len: usize| -> Result<u64, String> {
        if t.is_empty() || t.len() > max_len || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{what} `{t}` is not a number"));
        }
        t.parse::<u64>().map_err(|e| e.to_string())
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [m, sec] => (0, digits(m, "minutes", 2)?, digits(sec, "seconds", 2)?),
        [h, m, sec] => (digits(h, "hours", 4)?, digits(m, "minutes", 2)?, digits(sec, "seconds", 2)?),
        _ => return Err("expected HH:MM:SS,mmm".into()),
    };
    if m >= 60 || sec >= 60 {
        return Err("minutes and seconds must be below 60".into());
    }
    if frac.is_empty() {
        return Err("no milliseconds".into());
    }
    let f = digits(frac, "milliseconds", 3)?;
    let ms = f * 10u64.pow(3 - frac.len() as u32);
    Ok(((h * 60 + m) * 60 + sec) * 1000 + ms)
}

/// The words of a cue: markup, bracketed sound descriptions, music notes
/// and dialogue dashes removed, entities decoded, lines joined.
pub fn clean_text(lines: &[&str]) -> String {
    let mut words = String::new();
    for line in lines {
        let line = strip_brackets(&decode_entities(&strip_markup(line)));
        let line = line.replace(['♪', '♫', '\u{200e}', '\u{200f}'], " ");
        let mut line = line.trim();
        // "- Are you coming?" / "-Yes." mark a change of speaker.
        while let Some(rest) = line.strip_prefix(['-', '–', '—']) {
            line = rest.trim_start();
        }
        if !line.is_empty() {
            if !words.is_empty() {
                words.push(' ');
            }
            words.push_str(line);
        }
    }
    words.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Removes `<tags>` (keeping their text, but dropping `<rt>` ruby readings)
/// and `{\override}` blocks.
fn strip_markup(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    let mut in_ruby_text = false;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            if let Some(end) = rest.find('>') {
                let inner = &rest[1..end];
                let tag = inner.trim().to_ascii_lowercase();
                // `<i>`, `</i>`, `<c.x>`, `<00:01.000>`; not `3 < 4 > 2`.
                let looks_like_tag = inner.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '/') && !inner.contains('<');
                if looks_like_tag {
                    if tag == "rt" || tag.starts_with("rt ") || tag.starts_with("rt.") {
                        in_ruby_text = true;
                    } else if tag == "/rt" {
                        in_ruby_text = false;
                    }
                    rest = &rest[end + 1..];
                    continue;
                }
            }
        }
        if c == '{' && rest[1..].starts_with('\\') {
            if let Some(end) = rest.find('}') {
                rest = &rest[end + 1..];
                continue;
            }
        }
        if !in_ruby_text {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn decode_entities(line: &str) -> String {
    if !line.contains('&') {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                "nbsp" => ' ',
                "lrm" | "rlm" => ' ',
                _ => {
                    let code = name.strip_prefix('#')?;
                    let value = match code.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => code.parse().ok()?,
                    };
                    char::from_u32(value)?
                }
            };
            Some((c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Drops `[door slams]`-style sound descriptions (hearing-impaired
/// subtitles); an unclosed `[` is kept as text.
fn strip_brackets(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find('[') {
        match rest[i..].find(']') {
            Some(j) => {
                out.push_str(&rest[..i]);
                out.push(' ');
                rest = &rest[i + j + 1..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_both_notations() {
        assert_eq!(parse_timestamp("00:01:02,345"), Ok(62_345));
        assert_eq!(parse_timestamp("01:02.5"), Ok(62_500));
        assert_eq!(parse_timestamp("1:00:00.000"), Ok(3_600_000));
        for bad in ["", "00:61:00,000", "00:00:00", "aa:00:00,000", "0:0:0:0,0", "00:00:00,1234", "-1:00,000", "00:00:00,+12"] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn markup_is_removed_and_words_kept() {
        assert_eq!(clean_text(&["{\\an8}<i>Hello</i> <font color=\"red\">there</font>"]), "Hello there");
        assert_eq!(clean_text(&["<v Roger Bingham><c.yellow>We are</c> <00:00:01.000>in</v>", "- New York &amp; Boston"]), "We are in New York & Boston");
        assert_eq!(clean_text(&["<ruby>漢<rt>kan</rt></ruby>字"]), "漢字");
        assert_eq!(clean_text(&["[DOOR SLAMS]", "♪ la la ♪"]), "la la");
        assert_eq!(clean_text(&["3 < 4 and 5 > 2"]), "3 < 4 and 5 > 2");
        assert_eq!(clean_text(&["Tom & Jerry &bogus; &#233;t&#xE9;"]), "Tom & Jerry &bogus; été");
    }
}
