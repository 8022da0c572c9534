//! Word error rate between a reference text and a transcript.
//!
//! Both texts are normalized the same way first: lowercase; apostrophes
//! inside words dropped (`don't` → `dont`, so Whisper's choice of straight or
//! curly apostrophe does not count); thousands separators and decimal points
//! between digits kept as written (`1,000` → `1000`, `3.5` stays); every other
//! character that is not a letter or digit separates words. Numbers are
//! compared as written: `10` and `ten` are different words.

/// Splits `text` into normalized words (see the module documentation).
pub fn normalize(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|j| chars.get(j)).copied();
        let next = chars.get(i + 1).copied();
        if c.is_alphanumeric() {
            word.push(c);
        } else if matches!(c, '\'' | '’' | '‘') && prev.is_some_and(char::is_alphanumeric) && next.is_some_and(char::is_alphanumeric) {
            // Word-internal apostrophe: joined.
        } else if c == ',' && prev.is_some_and(|p| p.is_ascii_digit()) && next.is_some_and(|n| n.is_ascii_digit()) {
            // Thousands separator: joined.
        } else if c == '.' && prev.is_some_and(|p| p.is_ascii_digit()) && next.is_some_and(|n| n.is_ascii_digit()) {
            word.push('.');
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Edit counts of a word alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct WordErrors {
    /// Reference words replaced by another word.
    pub substitutions: usize,
    /// Reference words missing from the transcript.
    pub deletions: usize,
    /// Transcript words not in the reference.
    pub insertions: usize,
    /// Words in the reference.
    pub reference_words: usize,
}

impl WordErrors {
    /// Total edits.
    pub fn edits(&self) -> usize {
        self.substitutions + self.deletions + self.insertions
    }

    /// Edits per reference word. An empty reference gives 0 for an empty
    /// transcript and 1 otherwise (anything said is entirely wrong).
    pub fn rate(&self) -> f64 {
        if self.reference_words == 0 {
            return if self.insertions == 0 { 0.0 } else { 1.0 };
        }
        self.edits() as f64 / self.reference_words as f64
    }
}

/// One step of an alignment of reference words to transcript words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Reference word `ref` heard correctly as transcript word `hyp`.
    Match {
        /// Reference index.
        r: usize,
        /// Transcript index.
        h: usize,
    },
    /// Reference word `r` heard as another word `h`.
    Substitute {
        /// Reference index.
        r: usize,
        /// Transcript index.
        h: usize,
    },
    /// Reference word `r` missing.
    Delete {
        /// Reference index.
        r: usize,
    },
    /// Transcript word `h` extra.
    Insert {
        /// Transcript index.
        h: usize,
    },
}

/// A minimum-edit alignment of two word lists (Levenshtein, unit costs).
pub fn align(reference: &[String], hypothesis: &[String]) -> Vec<Align> {
    let (n, m) = (reference.len(), hypothesis.len());
    let w = m + 1;
    let mut cost = vec![0usize; (n + 1) * w];
    for i in 0..=n {
        cost[i * w] = i;
    }
    for (j, c) in cost.iter_mut().take(w).enumerate() {
        *c = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let sub = cost[(i - 1) * w + j - 1] + usize::from(reference[i - 1] != hypothesis[j - 1]);
            let del = cost[(i - 1) * w + j] + 1;
            let ins = cost[i * w + j - 1] + 1;
            cost[i * w + j] = sub.min(del).min(ins);
        }
    }
    let mut steps = Vec::with_capacity(n.max(m));
    let (mut i, mut j) = (n, m);
    while i > 0 || j > 0 {
        let here = cost[i * w + j];
        if i > 0 && j > 0 && here == cost[(i - 1) * w + j - 1] + usize::from(reference[i - 1] != hypothesis[j - 1]) {
            steps.push(if reference[i - 1] == hypothesis[j - 1] {
                Align::Match { r: i - 1, h: j - 1 }
            } else {
                Align::Substitute { r: i - 1, h: j - 1 }
            });
            i -= 1;
            j -= 1;
        } else if i > 0 && here == cost[(i - 1) * w + j] + 1 {
            steps.push(Align::Delete { r: i - 1 });
            i -= 1;
        } else {
            steps.push(Align::Insert { h: j - 1 });
            j -= 1;
        }
    }
    steps.reverse();
    steps
}

/// Counts the edits of an alignment.
pub fn count(alignment: &[Align], reference_words: usize) -> WordErrors {
    let mut e = WordErrors { reference_words, ..Default::default() };
    for a in alignment {
        match a {
            Align::Match { .. } => {}
            Align::Substitute { .. } => e.substitutions += 1,
            Align::Delete { .. } => e.deletions += 1,
            Align::Insert { .. } => e.insertions += 1,
        }
    }
    e
}

/// Word errors of `hypothesis` against `reference`, after normalization.
pub fn word_errors(reference: &str, hypothesis: &str) -> WordErrors {
    let (r, h) = (normalize(reference), normalize(hypothesis));
    count(&align(&r, &h), r.len())
}

/// Word error rate of `hypothesis` against `reference` (0 = perfect), after
/// normalization.
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    word_errors(reference, hypothesis).rate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_ignores_case_punctuation_and_apostrophe_style() {
        assert_eq!(normalize("Hello, World! Don't  stop—ever."), vec!["hello", "world", "dont", "stop", "ever"]);
        assert_eq!(normalize("Don’t"), normalize("don't"));
        assert_eq!(normalize("'quoted' words"), vec!["quoted", "words"]);
    }

    #[test]
    fn numbers_are_kept_as_written() {
        assert_eq!(normalize("It costs $1,000.50, or 3.5%."), vec!["it", "costs", "1000.50", "or", "3.5"]);
        assert_eq!(wer("ten apples", "10 apples"), 0.5);
    }

    #[test]
    fn counts_each_kind_of_edit() {
        let e = word_errors("the cat sat on the mat", "the cat sat on mat");
        assert_eq!((e.substitutions, e.deletions, e.insertions, e.reference_words), (0, 1, 0, 6));
        let e = word_errors("the cat sat on the mat", "the cat sat on the mat today");
        assert_eq!((e.substitutions, e.deletions, e.insertions), (0, 0, 1));
        let e = word_errors("a b c", "a x c");
        assert_eq!((e.substitutions, e.deletions, e.insertions), (1, 0, 0));
        assert!((wer("a b c d", "a b c d") - 0.0).abs() < 1e-12);
        assert!((wer("a b c d", "") - 1.0).abs() < 1e-12);
        assert!((wer("a b", "a b c d e f") - 2.0).abs() < 1e-12, "WER can exceed 1 with insertions");
    }

    #[test]
    fn empty_reference() {
        assert_eq!(wer("", ""), 0.0);
        assert_eq!(wer("", "something"), 1.0);
    }

    #[test]
    fn alignment_pairs_matching_words() {
        let r = normalize("one two three");
        let h = normalize("one three");
        assert_eq!(align(&r, &h), vec![Align::Match { r: 0, h: 0 }, Align::Delete { r: 1 }, Align::Match { r: 2, h: 1 }]);
    }
}
