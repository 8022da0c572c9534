//! English number words: cardinals, ordinals, years, decimals, digit runs.
//!
//! Numbers are handled as digit strings, not machine integers, so a
//! 100 000-digit "number" is read digit by digit instead of overflowing.

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];

const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// Scale words for groups of three digits, from the right. Past a
/// quadrillion, people do not read numbers as words: those are spelled as
/// digits.
const SCALES: [&str; 6] = ["", "thousand", "million", "billion", "trillion", "quadrillion"];

/// Longest digit string read as a cardinal (999 quadrillion and change).
pub const MAX_CARDINAL_DIGITS: usize = 18;

/// Style differences between American and British number reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberStyle {
    /// British English says "one hundred and five"; American "one hundred five".
    pub british: bool,
}

fn below_100(n: u32, out: &mut Vec<String>) {
    debug_assert!(n < 100);
    if n < 20 {
        out.push(ONES[n as usize].to_string());
    } else if n.is_multiple_of(10) {
        out.push(TENS[(n / 10) as usize].to_string());
    } else {
        out.push(format!("{}-{}", TENS[(n / 10) as usize], ONES[(n % 10) as usize]));
    }
}

fn below_1000(n: u32, style: NumberStyle, out: &mut Vec<String>) {
    debug_assert!(n < 1000);
    let h = n / 100;
    let r = n % 100;
    if h > 0 {
        out.push(ONES[h as usize].to_string());
        out.push("hundred".to_string());
        if r > 0 && style.british {
            out.push("and".to_string());
        }
    }
    if r > 0 || h == 0 {
        below_100(r, out);
    }
}

/// Reads each digit ("4 0 7" → "four zero seven"); non-digits are skipped.
pub fn digits(s: &str) -> String {
    s.chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| ONES[d as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Cardinal words for a string of ASCII digits (commas already removed).
/// Leading zeros ("007") and strings longer than [`MAX_CARDINAL_DIGITS`] are
/// read digit by digit, which is how people say codes and very long numbers.
pub fn cardinal(num: &str, style: NumberStyle) -> String {
    let num = num.trim();
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return digits(num);
    }
    if num.len() > 1 && num.starts_with('0') || num.len() > MAX_CARDINAL_DIGITS {
        return digits(num);
    }
    let value: u64 = match num.parse() {
        Ok(v) => v,
        Err(_) => return digits(num),
    };
    cardinal_u64(value, style)
}

/// Cardinal words for a value.
pub fn cardinal_u64(value: u64, style: NumberStyle) -> String {
    if value == 0 {
        return "zero".into();
    }
    let mut groups = Vec::new();
    let mut v = value;
    while v > 0 {
        groups.push((v % 1000) as u32);
        v /= 1000;
    }
    let mut words: Vec<String> = Vec::new();
    for (i, &g) in groups.iter().enumerate().rev() {
        if g == 0 {
            continue;
        }
        // British "one thousand and five": the "and" comes before a last
        // group under 100 when something bigger precedes it.
        if i == 0 && style.british && g < 100 && !words.is_empty() {
            words.push("and".into());
        }
        below_1000(g, style, &mut words);
        if i > 0 {
            words.push(SCALES.get(i).copied().unwrap_or("").to_string());
        }
    }
    words.join(" ")
}

/// Turns the last word of cardinal words into its ordinal form.
fn ordinalize_word(w: &str) -> String {
    if let Some((head, tail)) = w.rsplit_once('-') {
        return format!("{head}-{}", ordinalize_word(tail));
    }
    match w {
        "one" => "first".into(),
        "two" => "second".into(),
        "three" => "third".into(),
        "five" => "fifth".into(),
        "eight" => "eighth".into(),
        "nine" => "ninth".into(),
        "twelve" => "twelfth".into(),
        _ if w.ends_with('y') => format!("{}ieth", &w[..w.len() - 1]),
        _ => format!("{w}th"),
    }
}

/// Ordinal words ("22" → "twenty-second").
pub fn ordinal(num: &str, style: NumberStyle) -> String {
    let card = cardinal(num, style);
    match card.rsplit_once(' ') {
        Some((head, last)) => format!("{head} {}", ordinalize_word(last)),
        None => ordinalize_word(&card),
    }
}

/// Year reading for 1000–2099 ("1999" → "nineteen ninety-nine", "2005" →
/// "two thousand five", "1900" → "nineteen hundred"); other values fall back
/// to the cardinal.
pub fn year(num: &str, style: NumberStyle) -> String {
    let v: u32 = match num.parse() {
        Ok(v) if num.len() == 4 => v,
        _ => return cardinal(num, style),
    };
    if !(1000..=2099).contains(&v) {
        return cardinal(num, style);
    }
    let hi = v / 100;
    let lo = v % 100;
    // 2000-2009 (and 1000-1009) are said as thousands.
    if (v % 1000) < 10 {
        return cardinal_u64(v as u64, style);
    }
    let mut words = Vec::new();
    below_100(hi, &mut words);
    if lo == 0 {
        words.push("hundred".into());
    } else if lo < 10 {
        words.push("oh".into());
        below_100(lo, &mut words);
    } else {
        below_100(lo, &mut words);
    }
    words.join(" ")
}

/// Decade reading ("1990" → "nineteen nineties", "80" → "eighties").
pub fn decade(num: &str, style: NumberStyle) -> String {
    let base = if num.len() == 4 {
        year(num, style)
    } else {
        cardinal(num, style)
    };
    match base.rsplit_once(' ') {
        Some((head, last)) => format!("{head} {}", pluralize_number_word(last)),
        None => pluralize_number_word(&base),
    }
}

fn pluralize_number_word(w: &str) -> String {
    if let Some(stem) = w.strip_suffix('y') {
        format!("{stem}ies")
    } else if w.ends_with('x') {
        format!("{w}es")
    } else {
        format!("{w}s")
    }
}

/// A plain number as written: optional sign, digits with optional comma
/// groups, optional decimals ("-1,234.50" → "minus one thousand two hundred
/// thirty-four point five zero").
pub fn number(text: &str, style: NumberStyle) -> String {
    let (neg, body) = match text.strip_prefix(['-', '−']) {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let int_digits: String = int_part.chars().filter(|c| *c != ',').collect();
    let mut out = String::new();
    if neg {
        out.push_str("minus ");
    }
    if int_digits.is_empty() {
        out.push_str("zero");
    } else {
        out.push_str(&cardinal(&int_digits, style));
    }
    if let Some(f) = frac {
        if !f.is_empty() {
            out.push_str(" point ");
            out.push_str(&digits(f));
        }
    }
    out
}

/// Whether the cardinal reading of `num` is exactly "one" (for singular units).
pub fn is_one(text: &str) -> bool {
    let t = text.trim_start_matches(['-', '−']);
    t == "1" || t == "1.0" || t == "1.00"
}

#[cfg(test)]
mod tests {
    use super::*;
    const US: NumberStyle = NumberStyle { british: false };
    const GB: NumberStyle = NumberStyle { british: true };

    #[test]
    fn cardinals() {
        assert_eq!(cardinal("0", US), "zero");
        assert_eq!(cardinal("13", US), "thirteen");
        assert_eq!(cardinal("105", US), "one hundred five");
        assert_eq!(cardinal("105", GB), "one hundred and five");
        assert_eq!(cardinal("1005", GB), "one thousand and five");
        assert_eq!(
            cardinal("1234567", US),
            "one million two hundred thirty-four thousand five hundred sixty-seven"
        );
        assert_eq!(cardinal("007", US), "zero zero seven");
        assert_eq!(cardinal("1000000", US), "one million");
    }

    #[test]
    fn ordinals_and_years() {
        assert_eq!(ordinal("1", US), "first");
        assert_eq!(ordinal("22", US), "twenty-second");
        assert_eq!(ordinal("40", US), "fortieth");
        assert_eq!(ordinal("112", US), "one hundred twelfth");
        assert_eq!(year("1999", US), "nineteen ninety-nine");
        assert_eq!(year("1905", US), "nineteen oh five");
        assert_eq!(year("1900", US), "nineteen hundred");
        assert_eq!(year("2005", US), "two thousand five");
        assert_eq!(year("2024", US), "twenty twenty-four");
        assert_eq!(decade("1990", US), "nineteen nineties");
        assert_eq!(decade("80", US), "eighties");
    }

    #[test]
    fn plain_numbers() {
        assert_eq!(number("-3.14", US), "minus three point one four");
        assert_eq!(number("1,200", US), "one thousand two hundred");
        assert_eq!(number(".5", US), "zero point five");
    }
}
