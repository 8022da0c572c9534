//! The spoken-consent statement: a text the voice owner reads aloud, with a
//! random challenge phrase so that an old or someone else's recording cannot
//! be replayed, and the check that a recording says it.
//!
//! The challenge is [`CHALLENGE_LEN`] distinct words drawn from
//! [`CHALLENGE_WORDS`]: common concrete nouns with one spelling in British and
//! American English, no homophones, mostly two or more syllables. Words rather
//! than digits because Whisper writes numbers inconsistently ("five", "5",
//! "one two" → "12"), which would make honest readings fail; short words are
//! avoided because they are the ones most often dropped. 128 words, 5 drawn:
//! about 2.5 × 10¹⁰ ordered challenges.
//!
//! The check aligns the transcript with the statement word by word
//! ([`crate::wer`]). The speaker's name is not scored (Whisper spells unusual
//! names freely); everything else is. A recording passes when the word error
//! rate over the scored words is at most [`MAX_WER`] and at most
//! [`MAX_CHALLENGE_ERRORS`] challenge words are missed. Both limits are
//! calibrated in BENCHMARKS.md ("Spoken-consent statement").

use rand::seq::SliceRandom;
use rand::Rng;

/// The `rand` crate this module draws challenges with, for callers that
/// need an RNG (`rand::thread_rng()`) without depending on it themselves.
pub use rand;
use serde::{Deserialize, Serialize};

use crate::wer::{align, normalize, Align};

/// Challenge words per statement.
pub const CHALLENGE_LEN: usize = 5;

/// Largest word error rate (over the statement without the name) that
/// passes. Stock-voice readings measured at most 0.097; leaving out one of
/// the two sentences costs at least 0.33. The limit guards the text; wrong
/// challenges are caught by [`MAX_CHALLENGE_ERRORS`].
pub const MAX_WER: f64 = 0.2;

/// Largest number of challenge words that may be missed or misheard.
/// Measured: readings of the right statement miss at most 1 of 5; scored
/// against another random challenge, at least 4 of 5 are wrong.
pub const MAX_CHALLENGE_ERRORS: usize = 1;

/// Format tag of a saved statement.
pub const STATEMENT_FORMAT: &str = "avow-consent-statement/1";

/// Longest accepted name, in characters.
pub const MAX_NAME_CHARS: usize = 80;

/// The words challenges are drawn from (see the module documentation).
pub const CHALLENGE_WORDS: [&str; 128] = [
    "anchor", "apple", "balloon", "basket", "bicycle", "blanket", "bottle", "bridge", "butter", "button", "cactus", "camel", "camera",
    "candle", "carpet", "carrot", "castle", "cherry", "chicken", "coffee", "copper", "cotton", "diamond", "doctor", "dolphin", "dragon",
    "eagle", "elephant", "engine", "falcon", "feather", "finger", "forest", "fountain", "garden", "giraffe", "glacier", "guitar", "hammer",
    "helmet", "honey", "hotel", "insect", "island", "jacket", "jelly", "jungle", "kettle", "kitchen", "koala", "ladder", "lantern",
    "lemon", "letter", "lion", "lizard", "lobster", "magnet", "mango", "marble", "meadow", "melon", "mirror", "monkey", "mountain",
    "napkin", "needle", "noodle", "ocean", "octopus", "orange", "orchard", "oven", "panda", "paper", "parrot", "peanut", "pencil",
    "penguin", "pepper", "pillow", "pirate", "planet", "pocket", "potato", "pumpkin", "puzzle", "rabbit", "rainbow", "river", "robot",
    "rocket", "saddle", "salmon", "sandwich", "shadow", "signal", "silver", "spider", "spoon", "statue", "sugar", "summer", "sunset",
    "table", "ticket", "tiger", "tomato", "tractor", "tulip", "tunnel", "turtle", "umbrella", "valley", "velvet", "violin", "wagon",
    "walnut", "whistle", "window", "winter", "wizard", "yellow", "zebra", "circle", "thunder", "lettuce", "muffin",
];

/// Errors building a statement.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    /// The name is empty, too long or has control characters.
    #[error("invalid name: {0}")]
    BadName(String),
    /// The challenge is not [`CHALLENGE_LEN`] distinct words of the list.
    #[error("invalid challenge: {0}")]
    BadChallenge(String),
    /// A saved statement could not be read.
    #[error("not a consent statement: {0}")]
    BadFile(String),
}

/// A consent statement for one person, with its challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentStatement {
    /// [`STATEMENT_FORMAT`].
    pub format: String,
    /// The voice owner's name as they will say it.
    pub name: String,
    /// The challenge words, in order.
    pub challenge: Vec<String>,
    /// The full text to read.
    pub text: String,
}

fn check_name(name: &str) -> Result<String, StatementError> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() || !name.chars().any(char::is_alphabetic) {
        return Err(StatementError::BadName("the name must contain letters".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(StatementError::BadName(format!("longer than {MAX_NAME_CHARS} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(StatementError::BadName("control characters are not allowed".into()));
    }
    Ok(name)
}

/// The statement text before the name.
const OPENING: &str = "I,";
/// After the name, before the challenge.
// Plain, common words only: Whisper tiny.en heard the rare word "avow" as
// "a vowel" or "a while", and "a synthetic copy" as "us in the inner copy"
// (measured on stock voices), so the statement avoids both.
const MIDDLE: &str = ", give my consent to make a copy of my voice. \
    I know that the copy can say things I never said. My challenge words are:";

fn compose(name: &str, challenge: &[String]) -> String {
    format!("{OPENING} {name}{MIDDLE} {}.", challenge.join(", "))
}

impl ConsentStatement {
    /// A statement for `name` with a fresh random challenge.
    pub fn new<R: Rng + ?Sized>(name: &str, rng: &mut R) -> Result<Self, StatementError> {
        let words: Vec<String> = CHALLENGE_WORDS.choose_multiple(rng, CHALLENGE_LEN).map(|w| w.to_string()).collect();
        Self::with_challenge(name, words)
    }

    /// A statement with a given challenge (re-creating a saved one, tests).
    pub fn with_challenge(name: &str, challenge: Vec<String>) -> Result<Self, StatementError> {
        let name = check_name(name)?;
        if challenge.len() != CHALLENGE_LEN {
            return Err(StatementError::BadChallenge(format!("{} words, expected {CHALLENGE_LEN}", challenge.len())));
        }
        for (i, w) in challenge.iter().enumerate() {
            if !CHALLENGE_WORDS.contains(&w.as_str()) {
                return Err(StatementError::BadChallenge(format!("`{w}` is not a challenge word")));
            }
            if challenge[..i].contains(w) {
                return Err(StatementError::BadChallenge(format!("`{w}` appears twice")));
            }
        }
        let text = compose(&name, &challenge);
        Ok(Self { format: STATEMENT_FORMAT.into(), name, challenge, text })
    }

    /// Reads a statement saved as JSON, re-deriving and checking its text.
    pub fn from_json(json: &str) -> Result<Self, StatementError> {
        let s: ConsentStatement = serde_json::from_str(json).map_err(|e| StatementError::BadFile(e.to_string()))?;
        if s.format != STATEMENT_FORMAT {
            return Err(StatementError::BadFile(format!("format `{}`, expected `{STATEMENT_FORMAT}`", s.format)));
        }
        let rebuilt = Self::with_challenge(&s.name, s.challenge.clone())?;
        if rebuilt.text != s.text {
            return Err(StatementError::BadFile("the text does not match the name and challenge".into()));
        }
        Ok(rebuilt)
    }

    /// The statement as pretty JSON (what `avow consent statement --out` saves).
    pub fn to_json(&self) -> String {
        // A struct of strings always serializes.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Normalized words of the text, and the index ranges of the name and the
    /// challenge within them.
    fn scored_words(&self) -> (Vec<String>, std::ops::Range<usize>, std::ops::Range<usize>) {
        let words = normalize(&self.text);
        let before = normalize(OPENING).len();
        let name_len = normalize(&self.name).len();
        let name = before..before + name_len;
        let challenge = words.len() - CHALLENGE_LEN..words.len();
        (words, name, challenge)
    }
}

/// The verdict on one recording of a statement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatementCheck {
    /// What was heard.
    pub transcript: String,
    /// Word error rate over the statement without the name.
    pub wer: f64,
    /// Challenge words missed or misheard.
    pub challenge_errors: usize,
    /// Whether the recording says the statement (limits [`MAX_WER`],
    /// [`MAX_CHALLENGE_ERRORS`]).
    pub passed: bool,
}

/// Checks a transcript against the statement it should say.
pub fn check_statement(transcript: &str, expected: &ConsentStatement) -> StatementCheck {
    let (reference, name, challenge) = expected.scored_words();
    let heard = normalize(transcript);
    let steps = align(&reference, &heard);
    let scored = reference.len() - name.len();
    let (mut edits, mut challenge_errors) = (0usize, 0usize);
    // Reference index of the next reference word: where an insertion sits.
    let mut next_ref = 0usize;
    for step in &steps {
        match *step {
            Align::Match { r, .. } => next_ref = r + 1,
            Align::Substitute { r, .. } | Align::Delete { r } => {
                next_ref = r + 1;
                if !name.contains(&r) {
                    edits += 1;
                    if challenge.contains(&r) {
                        challenge_errors += 1;
                    }
                }
            }
            Align::Insert { .. } => {
                // Extra words next to or inside the name belong to the name
                // (a name heard as more words than written).
                let by_name = next_ref >= name.start && next_ref <= name.end;
                if !by_name {
                    edits += 1;
                }
            }
        }
    }
    let wer = if scored == 0 { 0.0 } else { edits as f64 / scored as f64 };
    let passed = !heard.is_empty() && wer <= MAX_WER && challenge_errors <= MAX_CHALLENGE_ERRORS;
    StatementCheck { transcript: transcript.to_string(), wer, challenge_errors, passed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn words(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|w| w.to_string()).collect()
    }

    fn statement() -> ConsentStatement {
        ConsentStatement::with_challenge("Ada Lovelace", words(&["river", "candle", "tiger", "orange", "violin"])).expect("statement")
    }

    #[test]
    fn challenge_words_are_distinct_known_and_single_tokens_of_text() {
        let mut seen = std::collections::HashSet::new();
        for w in CHALLENGE_WORDS {
            assert!(seen.insert(w), "{w} twice in the list");
            assert_eq!(normalize(w), vec![w.to_string()], "{w} normalizes to itself");
        }
    }

    #[test]
    fn random_statements_differ_and_contain_name_and_challenge() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let a = ConsentStatement::new("Ada", &mut rng).expect("a");
        let b = ConsentStatement::new("Ada", &mut rng).expect("b");
        assert_ne!(a.challenge, b.challenge);
        assert!(a.text.starts_with("I, Ada, give my consent"));
        assert!(a.text.ends_with(&format!("{}.", a.challenge.join(", "))));
    }

    #[test]
    fn bad_names_and_challenges_are_refused() {
        let ok = words(&["river", "candle", "tiger", "orange", "violin"]);
        assert!(ConsentStatement::with_challenge("", ok.clone()).is_err());
        assert!(ConsentStatement::with_challenge("  12 ", ok.clone()).is_err());
        assert!(ConsentStatement::with_challenge(&"a".repeat(81), ok.clone()).is_err());
        assert!(ConsentStatement::with_challenge("Ada\u{7}", ok).is_err());
        assert!(ConsentStatement::with_challenge("Ada", words(&["river", "river", "tiger", "orange", "violin"])).is_err());
        assert!(ConsentStatement::with_challenge("Ada", words(&["river", "xylophone", "tiger", "orange", "violin"])).is_err());
        assert!(ConsentStatement::with_challenge("Ada", words(&["river"])).is_err());
    }

    #[test]
    fn json_round_trip_and_tampering() {
        let s = statement();
        assert_eq!(ConsentStatement::from_json(&s.to_json()).expect("round trip"), s);
        let tampered = s.to_json().replace("My challenge", "Your challenge");
        assert!(ConsentStatement::from_json(&tampered).is_err());
        assert!(ConsentStatement::from_json("{}").is_err());
    }

    #[test]
    fn exact_reading_passes_with_zero_wer() {
        let s = statement();
        let c = check_statement(&s.text, &s);
        assert!(c.passed);
        assert_eq!((c.wer, c.challenge_errors), (0.0, 0));
    }

    #[test]
    fn misspelled_name_is_not_scored() {
        let s = statement();
        let heard = s.text.replace("Ada Lovelace", "Aida Love Lace");
        let c = check_statement(&heard, &s);
        assert_eq!(c.wer, 0.0, "{c:?}");
        assert!(c.passed);
    }

    #[test]
    fn wrong_challenge_fails() {
        let s = statement();
        let other = ConsentStatement::with_challenge("Ada Lovelace", words(&["apple", "bridge", "camel", "doctor", "eagle"])).expect("other");
        let c = check_statement(&other.text, &s);
        assert!(!c.passed);
        assert_eq!(c.challenge_errors, 5);
    }

    #[test]
    fn one_misheard_challenge_word_is_tolerated_two_are_not() {
        let s = statement();
        let one = s.text.replace("tiger", "tire");
        assert!(check_statement(&one, &s).passed);
        let two = s.text.replace("tiger", "tire").replace("violin", "villain");
        assert!(!check_statement(&two, &s).passed);
    }

    #[test]
    fn empty_or_unrelated_transcripts_fail() {
        let s = statement();
        assert!(!check_statement("", &s).passed);
        assert!(!check_statement("Thank you for watching.", &s).passed);
    }
}
