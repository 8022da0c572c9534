//! Sentence splitting that survives abbreviations, initials and decimals.
//!
//! A sentence ends at `.`, `!`, `?`, `…` (or the Devanagari danda and CJK
//! full stops) followed by whitespace, and always at a blank line. A period
//! does not end a sentence after a title or other abbreviation that is
//! normally followed by more words ("Dr.", "e.g.", "No."), after a single
//! capital letter (initials: "J. R. R. Tolkien"), or when the next word starts
//! in lowercase. Periods inside tokens ("3.14", "example.com") never split,
//! since no whitespace follows them.

/// Abbreviations after which a period never ends the sentence: they always
/// introduce something ("Dr. Smith", "e.g. apples", "No. 5").
const NEVER_FINAL: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "mt", "ft", "gen", "capt", "lt", "sgt", "rev", "gov",
    "no", "nos", "vs", "e.g", "i.e", "cf", "fig", "approx", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec", "sr", "jr", "ave", "blvd", "rd", "sen",
    "rep", "dept", "univ", "vol", "ch", "p", "pp",
];

/// Abbreviations that may end a sentence ("... and so on, etc. Then"): they
/// end it when the next word is capitalized.
const MAYBE_FINAL: &[&str] = &["etc", "inc", "ltd", "co", "corp", "a.m", "p.m", "al"];

fn is_terminator(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…' | '।' | '॥' | '。' | '！' | '？')
}

fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | ')' | ']' | '}' | '”' | '’' | '»')
}

/// The word right before byte offset `end` (the terminator), lowercased,
/// without leading opening punctuation.
fn word_before(text: &str, end: usize) -> String {
    let head = &text[..end];
    let start = head
        .rfind(|c: char| c.is_whitespace())
        .map_or(0, |i| i + head[i..].chars().next().map_or(1, char::len_utf8));
    head[start..]
        .trim_start_matches(['(', '"', '“', '\'', '['])
        .to_lowercase()
}

/// Splits `text` into sentences, trimmed, without empty ones.
pub fn split_sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for para in split_paragraphs(text) {
        split_paragraph(para, &mut out);
    }
    out
}

fn split_paragraphs(text: &str) -> Vec<&str> {
    let mut paras = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\n' {
            // A blank line: newline, optional spaces, newline.
            let mut j = i + 1;
            while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t' || bytes[j] == b'\r') {
                j += 1;
            }
            if j < bytes.len() && bytes[j] == b'\n' {
                paras.push(&text[start..i]);
                start = j + 1;
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    paras.push(&text[start..]);
    paras
}

fn split_paragraph<'a>(text: &'a str, out: &mut Vec<&'a str>) {
    let mut start = 0;
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if !is_terminator(c) {
            continue;
        }
        let only_period = c == '.';
        let mut end = i + c.len_utf8();
        let mut single = true;
        // Swallow "?!", "...", and closing quotes/brackets after the mark.
        while let Some(&(j, d)) = iter.peek() {
            if is_terminator(d) || is_closer(d) {
                if is_terminator(d) {
                    single = false;
                }
                end = j + d.len_utf8();
                iter.next();
            } else {
                break;
            }
        }
        let rest = &text[end..];
        let next_char = rest.trim_start().chars().next();
        if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
            continue; // "3.14", "example.com", "a.m."
        }
        let Some(next) = next_char else {
            // End of text: the final sentence is pushed below.
            continue;
        };
        let next_lower = next.is_lowercase();
        if only_period && single {
            let w = word_before(text, i);
            let w = w.trim_end_matches('.');
            let single_initial = {
                let mut cs = w.chars();
                matches!((cs.next(), cs.next()), (Some(a), None) if a.is_alphabetic())
            };
            if NEVER_FINAL.contains(&w) || single_initial || next_lower {
                continue;
            }
            if MAYBE_FINAL.contains(&w) && !next.is_uppercase() {
                continue;
            }
        } else if next_lower {
            continue; // "Yahoo! is", "wait… what"
        }
        let s = text[start..end].trim();
        if !s.is_empty() {
            out.push(s);
        }
        start = end;
    }
    let s = text[start..].trim();
    if !s.is_empty() {
        out.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic() {
        assert_eq!(
            split_sentences("Hello there. How are you? Fine!"),
            vec!["Hello there.", "How are you?", "Fine!"]
        );
    }
}
