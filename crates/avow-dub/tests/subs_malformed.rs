//! The subtitle parsers on well-formed and damaged files: every damage is a
//! typed error or a recorded skip, never a panic.

use avow_dub::subs::{parse_bytes, parse_str, Format, SubsError, MAX_FILE_BYTES};

const GOOD_SRT: &str = "1\n00:00:01,000 --> 00:00:02,500\n<i>Hello</i> there.\n\n2\n00:00:03,000 --> 00:00:05,000 X1:100 X2:200 Y1:10 Y2:20\n{\\an8}Second line,\n- split in two.\n";

#[test]
fn a_clean_srt_gives_its_cues_with_markup_stripped_and_lines_joined() {
    let s = parse_str(GOOD_SRT, false).unwrap();
    assert_eq!(s.format, Format::Srt);
    assert_eq!(s.cues.len(), 2);
    assert_eq!((s.cues[0].start_ms, s.cues[0].end_ms), (1000, 2500));
    assert_eq!(s.cues[0].text, "Hello there.");
    assert_eq!(s.cues[0].id.as_deref(), Some("1"));
    assert_eq!(s.cues[1].text, "Second line, split in two.");
    assert!(s.skipped.is_empty());
}

#[test]
fn bom_and_crlf_and_lone_cr_line_endings_parse_the_same() {
    let plain = parse_str(GOOD_SRT, false).unwrap();
    let crlf = format!("\u{feff}{}", GOOD_SRT.replace('\n', "\r\n"));
    assert_eq!(parse_str(&crlf, false).unwrap().cues, plain.cues);
    assert_eq!(parse_bytes(crlf.as_bytes(), false).unwrap().cues, plain.cues);
    assert_eq!(parse_str(&GOOD_SRT.replace('\n', "\r"), false).unwrap().cues, plain.cues);
    // UTF-16 with a byte order mark, both byte orders.
    let le: Vec<u8> = [0xff, 0xfe].into_iter().chain(GOOD_SRT.encode_utf16().flat_map(|u| u.to_le_bytes())).collect();
    let be: Vec<u8> = [0xfe, 0xff].into_iter().chain(GOOD_SRT.encode_utf16().flat_map(|u| u.to_be_bytes())).collect();
    assert_eq!(parse_bytes(&le, false).unwrap().cues, plain.cues);
    assert_eq!(parse_bytes(&be, false).unwrap().cues, plain.cues);
}

#[test]
fn missing_blank_lines_between_cues_are_tolerated() {
    let text = "1\n00:00:01,000 --> 00:00:02,000\nFirst.\n2\n00:00:02,500 --> 00:00:03,000\nSecond.\n00:00:04,000 --> 00:00:05,000\nThird, without a counter.\n";
    let s = parse_str(text, false).unwrap();
    let texts: Vec<&str> = s.cues.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["First.", "Second.", "Third, without a counter."]);
    assert_eq!(s.cues[1].id.as_deref(), Some("2"));
}

#[test]
fn bad_timestamps_are_skipped_with_their_line_and_the_rest_is_kept() {
    let text = "1\n00:00:01,000 --> 00:00:02,000\nGood.\n\n2\n00:00:99,000 --> 00:01:00,000\nBad seconds.\n\n3\nsoon --> later\nNot times.\n\n4\n00:00:05,000 --> 00:00:04,000\nBackwards.\n\n5\n00:00:06,000 --> \nNo end.\n\n6\n00:00:07,000 --> 00:00:08,000\nAlso good.\n";
    let s = parse_str(text, false).unwrap();
    assert_eq!(s.cues.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(), ["Good.", "Also good."]);
    assert_eq!(s.cues[1].number, 6, "numbers count skipped cues too");
    let lines: Vec<usize> = s.skipped.iter().map(|k| k.line).collect();
    assert_eq!(lines, [6, 10, 14, 18]);
    assert!(s.skipped[0].reason.contains("below 60"), "{:?}", s.skipped[0]);
    assert!(s.skipped[1].reason.contains("bad start time"), "{:?}", s.skipped[1]);
    assert!(s.skipped[2].reason.contains("ends before it starts"), "{:?}", s.skipped[2]);
    assert!(s.skipped[3].reason.contains("bad end time"), "{:?}", s.skipped[3]);
}

#[test]
fn empty_cues_are_recorded_skips_and_a_file_of_only_empty_cues_is_an_error() {
    let text = "1\n00:00:01,000 --> 00:00:02,000\n<i></i>\n\n2\n00:00:03,000 --> 00:00:04,000\n[MUSIC PLAYING]\n\n3\n00:00:05,000 --> 00:00:06,000\n\n4\n00:00:07,000 --> 00:00:08,000\nWords.\n";
    let s = parse_str(text, false).unwrap();
    assert_eq!(s.cues.len(), 1);
    assert_eq!(s.skipped.len(), 3);
    assert!(s.skipped.iter().all(|k| k.reason.contains("no words")), "{:?}", s.skipped);
    let only_empty = "1\n00:00:01,000 --> 00:00:02,000\n♪ ♪\n";
    assert!(matches!(parse_str(only_empty, false), Err(SubsError::NoCues { skipped }) if skipped.len() == 1));
    assert!(matches!(parse_str("", false), Err(SubsError::NoCues { .. })));
    assert!(matches!(parse_str("\n\n  \n", false), Err(SubsError::NoCues { .. })));
}

#[test]
fn stray_text_without_timing_is_skipped() {
    let text = "garbage at the top\nmore garbage\n\n1\n00:00:01,000 --> 00:00:02,000\nReal.\n";
    let s = parse_str(text, false).unwrap();
    assert_eq!(s.cues.len(), 1);
    assert_eq!(s.skipped.len(), 1);
    assert_eq!(s.skipped[0].line, 1);
}

#[test]
fn out_of_order_and_overlapping_cues_are_sorted_and_reported() {
    let text = "1\n00:00:05,000 --> 00:00:06,000\nThird.\n\n2\n00:00:01,000 --> 00:00:03,000\nFirst.\n\n3\n00:00:02,500 --> 00:00:04,000\nSecond, overlapping the first.\n";
    let s = parse_str(text, false).unwrap();
    assert_eq!(s.cues.iter().map(|c| c.number).collect::<Vec<_>>(), [2, 3, 1]);
    assert_eq!(s.out_of_order, 1);
    assert_eq!(s.overlaps, vec![(2, 3)]);
}

#[test]
fn webvtt_with_header_notes_styles_ids_settings_and_voice_tags() {
    let text = "WEBVTT - a title\nKind: captions\n\nNOTE this is a comment\nspanning lines\n\nSTYLE\n::cue { color: yellow }\n\nintro\n00:01.000 --> 00:02.500 align:start position:10%\n<v Ana>¿Vienes <c.loud>mañana</c>?</v>\n\n00:00:03.000 --> 00:00:04.000 line:0\n<b>Sí</b> &amp; tú\n";
    let s = parse_str(text, true).unwrap();
    assert_eq!(s.format, Format::Vtt);
    assert_eq!(s.cues.len(), 2);
    assert_eq!(s.cues[0].id.as_deref(), Some("intro"));
    assert_eq!((s.cues[0].start_ms, s.cues[0].end_ms), (1000, 2500));
    assert_eq!(s.cues[0].text, "¿Vienes mañana?");
    assert_eq!(s.cues[1].text, "Sí & tú");
}

#[test]
fn a_vtt_file_without_its_header_is_refused() {
    let err = parse_str("00:01.000 --> 00:02.000\nHi\n", true).unwrap_err();
    assert!(matches!(err, SubsError::NotWebVtt { .. }), "{err}");
    assert!(err.to_string().contains("WEBVTT"));
    // WEBVTTX is not the header either.
    assert!(matches!(parse_str("WEBVTTX\n\n00:01.000 --> 00:02.000\nHi\n", true), Err(SubsError::NotWebVtt { .. })));
}

#[test]
fn huge_and_binary_and_badly_encoded_files_are_clear_errors() {
    let huge = vec![b'a'; MAX_FILE_BYTES + 1];
    assert!(matches!(parse_bytes(&huge, false), Err(SubsError::TooLarge { .. })));
    assert!(matches!(parse_bytes(b"1\n00:00:01,000 --> 00:00:02,000\ncaf\xe9\n", false), Err(SubsError::Encoding(m)) if m.contains("byte")));
    assert!(matches!(parse_bytes(b"\x00\x01\x02binary", false), Err(SubsError::Encoding(_))));
    // An odd-length UTF-16 body does not panic.
    assert!(parse_bytes(&[0xff, 0xfe, 0x41], false).is_err());
}

#[test]
fn a_large_valid_file_parses_and_too_many_cues_is_an_error() {
    let mut text = String::new();
    for i in 0..20_000u64 {
        let t = i * 2000;
        text.push_str(&format!("{}\n{} --> {}\nLine {i}.\n\n", i + 1, stamp(t), stamp(t + 1500)));
    }
    let s = parse_str(&text, false).unwrap();
    assert_eq!(s.cues.len(), 20_000);
    let mut too_many = String::new();
    for i in 0..50_001u64 {
        too_many.push_str(&format!("{} --> {}\nx\n\n", stamp(i * 10), stamp(i * 10 + 5)));
    }
    assert!(too_many.len() < MAX_FILE_BYTES);
    assert!(matches!(parse_str(&too_many, false), Err(SubsError::TooManyCues { .. })));
}

#[test]
fn an_overlong_cue_is_skipped() {
    let long = "word ".repeat(400);
    let text = format!("1\n00:00:01,000 --> 00:00:02,000\n{long}\n\n2\n00:00:03,000 --> 00:00:04,000\nShort.\n");
    let s = parse_str(&text, false).unwrap();
    assert_eq!(s.cues.len(), 1);
    assert!(s.skipped[0].reason.contains("characters"));
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A deterministic pseudo-random mix of subtitle fragments and noise.
    let pieces: [&[u8]; 12] = [b"-->", b"00:00:01,000", b" ", b"\n", b"\r\n", b"<i>", b"{\\an8}", b"WEBVTT", b"&amp", b"\xef\xbb\xbf", b"99:99:99,999", b"1\n"];
    let mut state = 0x9e3779b97f4a7c15u64;
    for _ in 0..2_000 {
        let mut bytes = Vec::new();
        for _ in 0..40 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            bytes.extend_from_slice(pieces[(state % pieces.len() as u64) as usize]);
        }
        let _ = parse_bytes(&bytes, state.is_multiple_of(2));
    }
}

fn stamp(ms: u64) -> String {
    format!("{:02}:{:02}:{:02},{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}
