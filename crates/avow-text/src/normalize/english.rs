//! English normalization: written forms → words espeak-ng reads correctly.
//!
//! espeak's own English number and abbreviation handling is weak ("$5.50"
//! → "dollar five fifty", "Dr." always "doctor", "1999" as a cardinal), so
//! every digit is turned into words here before phonemization.
//!
//! The passes run in a fixed order, most specific first, and each one turns
//! the digits it recognizes into words so later passes never see them:
//! URLs/e-mails, times, dates, currency, percentages, decades, ordinals,
//! units, fractions, ranges, versions, abbreviations, symbols, plain numbers.
//!
//! Choices worth knowing:
//! - `dd/dd/yyyy` with both parts ≤ 12 is month/day in en-us and day/month in
//!   en-gb; a part > 12 decides by itself. Two-digit years < 50 are 20xx.
//! - A bare four-digit number 1000–2099 without separators is read as a year
//!   ("in 1999", "2024 was"): that is the common case in running text.
//! - `St.`/`Dr.` after a capitalized word or a number are Street/Drive
//!   ("Baker St."), otherwise Saint/Doctor ("St. Louis", "Dr. Smith").

use std::sync::OnceLock;

use regex::{Captures, Regex};

use super::numbers::{self, NumberStyle};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Regex alternation matching month names and their abbreviations.
const MONTH_ALT: &str = "January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec";

fn month_index(name: &str) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    if lower.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.to_ascii_lowercase().starts_with(&lower[..3]))
}

struct Patterns {
    url: Regex,
    email: Regex,
    domain: Regex,
    time: Regex,
    time_ampm: Regex,
    ampm: Regex,
    iso_date: Regex,
    slash_date: Regex,
    month_day: Regex,
    day_month: Regex,
    currency: Regex,
    currency_code: Regex,
    percent: Regex,
    decade: Regex,
    ordinal: Regex,
    unit: Regex,
    degree: Regex,
    fraction: Regex,
    range: Regex,
    phone: Regex,
    version: Regex,
    abbrev: Regex,
    eg_ie: Regex,
    hash_num: Regex,
    roman: Regex,
    number: Regex,
    space_before_punct: Regex,
    spaces: Regex,
    double_the: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        // The patterns are constants: a failure here is a bug caught by the
        // unit tests, never something a user's input can trigger.
        let re = |s: &str| Regex::new(s).expect("constant regex");
        let num = r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?";
        Patterns {
            url: re(r"(?i)\b(?:https?://|www\.)[^\s<>]+"),
            email: re(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+\b"),
            domain: re(
                r"(?i)\b[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9\-]+)*\.(?:com|org|net|edu|gov|io|dev|ai|app|info|co\.uk|uk|de|fr)\b",
            ),
            time: re(r"\b([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?\b(?:\s*([AaPp])\.?\s?[Mm]\b\.?)?"),
            time_ampm: re(r"\b([0-9]{1,2})\s?([AaPp])\.?[Mm]\b\.?"),
            ampm: re(r"\b([AaPp])\.[Mm]\."),
            iso_date: re(r"\b([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})\b"),
            slash_date: re(r"\b([0-9]{1,2})/([0-9]{1,2})/([0-9]{4}|[0-9]{2})\b"),
            month_day: re(&format!(
                r"\b({MONTH_ALT})\.?\s+([0-9]{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+([0-9]{{4}})\b)?"
            )),
            day_month: re(&format!(
                r"\b([0-9]{{1,2}})(?:st|nd|rd|th)?\s+(of\s+)?({MONTH_ALT})\b\.?(?:,?\s+([0-9]{{4}})\b)?"
            )),
            currency: re(&format!(
                r"([-−]?)([$£€¥])\s?({num})(?:\s?(thousand|million|billion|trillion|bn|[KkMmBb])\b)?"
            )),
            currency_code: re(&format!(r"([-−]?)\b({num})\s?(USD|EUR|GBP|JPY)\b")),
            percent: re(&format!(r"([-−]?)\b({num})\s?%")),
            decade: re(r"(?:\b([0-9]{3}0)|'([0-9]0)|\b([0-9]0))'?s\b"),
            ordinal: re(r"\b([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?i:(st|nd|rd|th))\b"),
            unit: re(&format!(
                r"([-−]?)\b({num})(?:\s?(km/h|mph|kph|km|cm|mm|kg|mg|ml|GB|MB|TB|kB|KB|GHz|MHz|kHz|Hz|°C|°F|ft|lbs|lb|oz|ms)|(m|g))\b"
            )),
            degree: re(&format!(r"([-−]?)\b({num})\s?°")),
            fraction: re(r"\b([0-9]{1,2})/([0-9]{1,2})\b"),
            range: re(r"\b([0-9]+)\s?[-–]\s?([0-9]+)\b"),
            phone: re(r"(?:\+?\b(1)[-.\s])?(?:\(([0-9]{3})\)\s?|\b([0-9]{3})[-.\s])([0-9]{3})[-.\s]([0-9]{4})\b"),
            version: re(r"\b[0-9]+(?:\.[0-9]+){2,}\b"),
            abbrev: re(
                r"\b(Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|Mt|Ft|Ave|Blvd|Rd|Gen|Capt|Lt|Sgt|Rev|Gov|Inc|Ltd|Co|Corp|Dept|approx|vs|etc|No|Nos|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)(\.|\b)",
            ),
            eg_ie: re(r"(?i)\b(e\.g|i\.e)\.?"),
            hash_num: re(r"#\s?([0-9])"),
            roman: re(r"\b([A-Z][a-z]+)\.?\s+([IVXLCDM]{1,8})\b"),
            number: re(r"([-−]?)([0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"),
            space_before_punct: re(r"\s+([,.;:!?…)])"),
            spaces: re(r"\s{2,}"),
            double_the: re(r"\b([Tt]he)\s+the\b"),
        }
    })
}

/// Normalizes one sentence (or any span) of English.
pub fn normalize(text: &str, british: bool) -> String {
    let style = NumberStyle { british };
    let p = patterns();
    let ended_with_period = text.trim_end().ends_with('.');

    let mut s = text.to_string();
    s = p
        .url
        .replace_all(&s, |c: &Captures| {
            let m = &c[0];
            let trimmed = m.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'']);
            let tail = &m[trimmed.len()..];
            format!(" {} {tail}", read_url(trimmed))
        })
        .into_owned();
    s = p
        .email
        .replace_all(&s, |c: &Captures| format!(" {} ", read_url(&c[0])))
        .into_owned();
    s = p
        .domain
        .replace_all(&s, |c: &Captures| format!(" {} ", read_url(&c[0])))
        .into_owned();

    s = p
        .time
        .replace_all(&s, |c: &Captures| {
            let (h, m) = (&c[1], &c[2]);
            match read_time(h, m, c.get(3).map(|x| x.as_str()), c.get(4).map(|x| x.as_str()), style) {
                Some(t) => format!(" {t} "),
                None => c[0].to_string(),
            }
        })
        .into_owned();
    s = p
        .time_ampm
        .replace_all(&s, |c: &Captures| {
            let h: u32 = c[1].parse().unwrap_or(99);
            if (1..=12).contains(&h) {
                format!(" {} {} ", numbers::cardinal_u64(h as u64, style), ampm(&c[2]))
            } else {
                c[0].to_string()
            }
        })
        .into_owned();
    s = p
        .ampm
        .replace_all(&s, |c: &Captures| format!(" {} ", ampm(&c[1])))
        .into_owned();

    s = p
        .iso_date
        .replace_all(&s, |c: &Captures| {
            read_date(&c[1], &c[2], &c[3], style).unwrap_or_else(|| c[0].to_string())
        })
        .into_owned();
    s = p
        .slash_date
        .replace_all(&s, |c: &Captures| {
            let (a, b): (u32, u32) = (c[1].parse().unwrap_or(0), c[2].parse().unwrap_or(0));
            let y = if c[3].len() == 2 {
                let yy: u32 = c[3].parse().unwrap_or(0);
                format!("{}", if yy < 50 { 2000 + yy } else { 1900 + yy })
            } else {
                c[3].to_string()
            };
            // A part above 12 can only be the day; otherwise the locale decides.
            let (month, day) = if a > 12 {
                (b, a)
            } else if b > 12 || !british {
                (a, b)
            } else {
                (b, a)
            };
            read_date(&y, &month.to_string(), &day.to_string(), style)
                .unwrap_or_else(|| c[0].to_string())
        })
        .into_owned();
    s = p
        .month_day
        .replace_all(&s, |c: &Captures| {
            let (Some(mi), Ok(day)) = (month_index(&c[1]), c[2].parse::<u32>()) else {
                return c[0].to_string();
            };
            if !(1..=31).contains(&day) {
                return c[0].to_string();
            }
            let mut out = format!(" {} {}", MONTHS[mi], numbers::ordinal(&c[2], style));
            if let Some(y) = c.get(3) {
                out.push_str(", ");
                out.push_str(&numbers::year(y.as_str(), style));
            }
            out.push(' ');
            out
        })
        .into_owned();
    s = p
        .day_month
        .replace_all(&s, |c: &Captures| {
            let (Some(mi), Ok(day)) = (month_index(&c[3]), c[1].parse::<u32>()) else {
                return c[0].to_string();
            };
            if !(1..=31).contains(&day) {
                return c[0].to_string();
            }
            let mut out = format!(" the {} of {}", numbers::ordinal(&c[1], style), MONTHS[mi]);
            if let Some(y) = c.get(4) {
                out.push_str(", ");
                out.push_str(&numbers::year(y.as_str(), style));
            }
            out.push(' ');
            out
        })
        .into_owned();

    s = p
        .currency
        .replace_all(&s, |c: &Captures| {
            let unit = match &c[2] {
                "$" => Currency::DOLLAR,
                "£" => Currency::POUND,
                "€" => Currency::EURO,
                _ => Currency::YEN,
            };
            let scale = c.get(4).map(|m| scale_word(m.as_str()));
            format!(" {} ", read_money(!c[1].is_empty(), &c[3], scale, unit, style))
        })
        .into_owned();
    s = p
        .currency_code
        .replace_all(&s, |c: &Captures| {
            let unit = match &c[3] {
                "USD" => Currency::DOLLAR,
                "GBP" => Currency::POUND,
                "EUR" => Currency::EURO,
                _ => Currency::YEN,
            };
            format!(" {} ", read_money(!c[1].is_empty(), &c[2], None, unit, style))
        })
        .into_owned();
    s = p
        .percent
        .replace_all(&s, |c: &Captures| {
            format!(" {}{} percent ", sign(&c[1]), numbers::number(&c[2], style))
        })
        .into_owned();
    s = p
        .decade
        .replace_all(&s, |c: &Captures| {
            let d = c.get(1).or(c.get(2)).or(c.get(3)).map_or("", |m| m.as_str());
            format!(" {} ", numbers::decade(d, style))
        })
        .into_owned();
    s = p
        .ordinal
        .replace_all(&s, |c: &Captures| {
            let digits: String = c[1].chars().filter(|c| *c != ',').collect();
            format!(" {} ", numbers::ordinal(&digits, style))
        })
        .into_owned();
    s = p
        .unit
        .replace_all(&s, |c: &Captures| {
            let abbr = c.get(3).or(c.get(4)).map_or("", |m| m.as_str());
            let (one, many) = unit_names(abbr);
            let name = if numbers::is_one(&c[2]) { one } else { many };
            format!(" {}{} {name} ", sign(&c[1]), numbers::number(&c[2], style))
        })
        .into_owned();
    s = p
        .degree
        .replace_all(&s, |c: &Captures| {
            let name = if numbers::is_one(&c[2]) { "degree" } else { "degrees" };
            format!(" {}{} {name} ", sign(&c[1]), numbers::number(&c[2], style))
        })
        .into_owned();
    s = p
        .fraction
        .replace_all(&s, |c: &Captures| {
            read_fraction(&c[1], &c[2], style).unwrap_or_else(|| c[0].to_string())
        })
        .into_owned();
    s = p
        .phone
        .replace_all(&s, |c: &Captures| {
            // Phone numbers are read digit by digit, group by group.
            let groups: Vec<String> = (1..=5)
                .filter_map(|i| c.get(i))
                .map(|m| numbers::digits(m.as_str()))
                .collect();
            format!(" {} ", groups.join(", "))
        })
        .into_owned();
    s = p
        .range
        .replace_all(&s, |c: &Captures| {
            format!(
                " {} to {} ",
                plain_integer(&c[1], style),
                plain_integer(&c[2], style)
            )
        })
        .into_owned();
    s = p
        .version
        .replace_all(&s, |c: &Captures| {
            let parts: Vec<String> = c[0]
                .split('.')
                .map(|d| numbers::cardinal(d, style))
                .collect();
            format!(" {} ", parts.join(" point "))
        })
        .into_owned();

    let snapshot = s.clone();
    s = p
        .abbrev
        .replace_all(&snapshot, |c: &Captures| {
            let whole = c.get(0).map_or(0..0, |m| m.range());
            expand_abbreviation(&c[1], !c[2].is_empty(), &snapshot[..whole.start], &snapshot[whole.end..])
                .unwrap_or_else(|| c[0].to_string())
        })
        .into_owned();
    s = p
        .eg_ie
        .replace_all(&s, |c: &Captures| {
            if c[1].eq_ignore_ascii_case("e.g") {
                " for example ".to_string()
            } else {
                " that is ".to_string()
            }
        })
        .into_owned();
    s = p.hash_num.replace_all(&s, " number $1").into_owned();
    s = p
        .roman
        .replace_all(&s, |c: &Captures| {
            read_roman(&c[1], &c[2], style).unwrap_or_else(|| c[0].to_string())
        })
        .into_owned();
    s = replace_symbols(&s);

    let snapshot = s.clone();
    s = p
        .number
        .replace_all(&snapshot, |c: &Captures| {
            let whole = c.get(0).map_or(0..0, |m| m.range());
            let before = snapshot[..whole.start].chars().next_back();
            // A sign right after a letter or digit is a hyphen ("COVID-19").
            let negative = !c[1].is_empty() && !before.is_some_and(|b| b.is_alphanumeric());
            let body = &c[2];
            let words = if !negative
                && body.len() == 4
                && body.bytes().all(|b| b.is_ascii_digit())
                && (1000..=2099).contains(&body.parse::<u32>().unwrap_or(0))
                && reads_as_year(&snapshot[..whole.start], &snapshot[whole.end..])
            {
                numbers::year(body, style)
            } else {
                numbers::number(body, style)
            };
            format!(" {}{words} ", if negative { "minus " } else { "" })
        })
        .into_owned();

    // "on the 3rd of March" → "on the the third of March" otherwise.
    s = p.double_the.replace_all(&s, "$1").into_owned();
    s = p.space_before_punct.replace_all(&s, "$1").into_owned();
    s = p.spaces.replace_all(&s, " ").into_owned();
    let mut s = s.trim().to_string();
    // Expanding "etc." or "a.m." at the end of a sentence eats its period.
    if ended_with_period && !s.ends_with(['.', '!', '?', '…']) {
        s.push('.');
    }
    s
}

/// Words after which a four-digit number is a year ("in 1999", "since
/// 2010", "May 2024"); elsewhere it is one only at the start or the end of a
/// clause ("2024 was", "until now, 1999."), and a count otherwise ("2024
/// apples").
const YEAR_CUES: &[&str] = &[
    "in", "since", "by", "from", "until", "till", "to", "of", "year", "during", "before",
    "after", "around", "circa", "c.", "early", "late", "mid", "summer", "winter", "spring",
    "fall", "autumn", "born", "the", "and", "or", "between", "through",
];

fn reads_as_year(before: &str, after: &str) -> bool {
    let prev = prev_word(before)
        .trim_matches(|c: char| !c.is_alphanumeric() && c != '.')
        .to_lowercase();
    let prev_ends_clause = before.trim_end().ends_with([',', ';', ':', '(', '"', '“']);
    if prev.is_empty() || prev_ends_clause {
        return true;
    }
    if YEAR_CUES.contains(&prev.as_str()) || month_index(&prev).is_some_and(|_| prev.len() >= 3) {
        return true;
    }
    let next = after.trim_start();
    next.is_empty()
        || next.starts_with([',', '.', ';', ':', '!', '?', ')'])
        || next.starts_with("AD")
        || next.starts_with("BC")
        || next.starts_with("CE")
}

fn sign(minus: &str) -> &'static str {
    if minus.is_empty() {
        ""
    } else {
        "minus "
    }
}

fn plain_integer(d: &str, style: NumberStyle) -> String {
    numbers::cardinal(d, style)
}

fn ampm(letter: &str) -> &'static str {
    if letter.eq_ignore_ascii_case("a") {
        "AM"
    } else {
        "PM"
    }
}

fn read_time(h: &str, m: &str, sec: Option<&str>, ap: Option<&str>, style: NumberStyle) -> Option<String> {
    let hv: u32 = h.parse().ok()?;
    let mv: u32 = m.parse().ok()?;
    if hv > 24 || mv > 59 || (ap.is_some() && !(1..=12).contains(&hv)) {
        return None;
    }
    let mut out = numbers::cardinal_u64(hv as u64, style);
    if mv == 0 {
        if ap.is_none() {
            out.push_str(" o'clock");
        }
    } else if mv < 10 {
        out.push_str(" oh ");
        out.push_str(&numbers::cardinal_u64(mv as u64, style));
    } else {
        out.push(' ');
        out.push_str(&numbers::cardinal_u64(mv as u64, style));
    }
    if let Some(sec) = sec {
        let sv: u32 = sec.parse().ok()?;
        if sv > 59 {
            return None;
        }
        out.push_str(&format!(
            " and {} second{}",
            numbers::cardinal_u64(sv as u64, style),
            if sv == 1 { "" } else { "s" }
        ));
    }
    if let Some(a) = ap {
        out.push(' ');
        out.push_str(ampm(a));
    }
    Some(out)
}

fn read_date(y: &str, m: &str, d: &str, style: NumberStyle) -> Option<String> {
    let mv: usize = m.parse().ok()?;
    let dv: u32 = d.parse().ok()?;
    if !(1..=12).contains(&mv) || !(1..=31).contains(&dv) {
        return None;
    }
    let day = numbers::ordinal(&dv.to_string(), style);
    let year = numbers::year(y, style);
    let month = MONTHS[mv - 1];
    Some(if style.british {
        format!(" the {day} of {month}, {year} ")
    } else {
        format!(" {month} {day}, {year} ")
    })
}

#[derive(Clone, Copy)]
struct Currency {
    one: &'static str,
    many: &'static str,
    cent_one: Option<&'static str>,
    cent_many: &'static str,
}

impl Currency {
    const DOLLAR: Currency = Currency {
        one: "dollar",
        many: "dollars",
        cent_one: Some("cent"),
        cent_many: "cents",
    };
    const POUND: Currency = Currency {
        one: "pound",
        many: "pounds",
        cent_one: Some("penny"),
        cent_many: "pence",
    };
    const EURO: Currency = Currency {
        one: "euro",
        many: "euros",
        cent_one: Some("cent"),
        cent_many: "cents",
    };
    const YEN: Currency = Currency {
        one: "yen",
        many: "yen",
        cent_one: None,
        cent_many: "",
    };
}

fn scale_word(s: &str) -> &'static str {
    match s {
        "K" | "k" | "thousand" => "thousand",
        "M" | "m" | "million" => "million",
        "B" | "b" | "bn" | "billion" => "billion",
        _ => "trillion",
    }
}

fn read_money(neg: bool, amount: &str, scale: Option<&str>, unit: Currency, style: NumberStyle) -> String {
    let minus = if neg { "minus " } else { "" };
    if let Some(scale) = scale {
        return format!("{minus}{} {scale} {}", numbers::number(amount, style), unit.many);
    }
    let clean: String = amount.chars().filter(|c| *c != ',').collect();
    let (int_part, frac) = match clean.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (clean.clone(), None),
    };
    let int_value_is_one = int_part.trim_start_matches('0') == "1";
    let int_is_zero = int_part.bytes().all(|b| b == b'0');
    match (frac, unit.cent_one) {
        (Some(f), Some(cent_one)) if f.len() == 2 => {
            let cents: u32 = f.parse().unwrap_or(0);
            let cent_words = numbers::cardinal_u64(cents as u64, style);
            let cent_name = if cents == 1 { cent_one } else { unit.cent_many };
            let main_name = if int_value_is_one { unit.one } else { unit.many };
            let main = numbers::cardinal(if int_part.is_empty() { "0" } else { &int_part }, style);
            if cents == 0 {
                format!("{minus}{main} {main_name}")
            } else if int_is_zero {
                format!("{minus}{cent_words} {cent_name}")
            } else {
                format!("{minus}{main} {main_name} and {cent_words} {cent_name}")
            }
        }
        (Some(_), _) => format!("{minus}{} {}", numbers::number(&clean, style), unit.many),
        (None, _) => {
            let name = if int_value_is_one { unit.one } else { unit.many };
            format!("{minus}{} {name}", numbers::cardinal(&int_part, style))
        }
    }
}

fn unit_names(abbr: &str) -> (&'static str, &'static str) {
    match abbr {
        "km/h" | "kph" => ("kilometer per hour", "kilometers per hour"),
        "mph" => ("mile per hour", "miles per hour"),
        "km" => ("kilometer", "kilometers"),
        "cm" => ("centimeter", "centimeters"),
        "mm" => ("millimeter", "millimeters"),
        "m" => ("meter", "meters"),
        "kg" => ("kilogram", "kilograms"),
        "mg" => ("milligram", "milligrams"),
        "g" => ("gram", "grams"),
        "ml" => ("milliliter", "milliliters"),
        "GB" => ("gigabyte", "gigabytes"),
        "MB" => ("megabyte", "megabytes"),
        "TB" => ("terabyte", "terabytes"),
        "kB" | "KB" => ("kilobyte", "kilobytes"),
        "GHz" => ("gigahertz", "gigahertz"),
        "MHz" => ("megahertz", "megahertz"),
        "kHz" => ("kilohertz", "kilohertz"),
        "Hz" => ("hertz", "hertz"),
        "°C" => ("degree Celsius", "degrees Celsius"),
        "°F" => ("degree Fahrenheit", "degrees Fahrenheit"),
        "ft" => ("foot", "feet"),
        "lb" | "lbs" => ("pound", "pounds"),
        "oz" => ("ounce", "ounces"),
        "ms" => ("millisecond", "milliseconds"),
        _ => ("", ""),
    }
}

fn read_fraction(n: &str, d: &str, style: NumberStyle) -> Option<String> {
    let nv: u64 = n.parse().ok()?;
    let dv: u64 = d.parse().ok()?;
    if dv == 0 {
        return None;
    }
    let num = numbers::cardinal_u64(nv, style);
    let plural = nv != 1;
    let den = match dv {
        1 => return Some(format!(" {num} over one ")),
        2 => (if plural { "halves" } else { "half" }).to_string(),
        4 => (if plural { "quarters" } else { "quarter" }).to_string(),
        _ => {
            let o = numbers::ordinal(d, style);
            if plural {
                format!("{o}s")
            } else {
                o
            }
        }
    };
    Some(format!(" {num} {den} "))
}

/// Reads a URL or e-mail address the way people say it: "https://" is not
/// said, separators become words, short consonant clusters ("www") are
/// spelled.
fn read_url(url: &str) -> String {
    let lower = url.to_ascii_lowercase();
    let body = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .unwrap_or(&lower)
        .trim_end_matches('/');
    let mut words: Vec<String> = Vec::new();
    let mut run = String::new();
    let flush = |run: &mut String, words: &mut Vec<String>| {
        if run.is_empty() {
            return;
        }
        if run.chars().all(|c| c.is_ascii_digit()) {
            words.push(numbers::digits(run));
        } else if run.chars().count() <= 3 && !run.chars().any(|c| "aeiouy".contains(c)) {
            // "www", "cdn": no vowel, so not a word anyone says.
            words.push(run.chars().map(String::from).collect::<Vec<_>>().join(" "));
        } else {
            words.push(run.clone());
        }
        run.clear();
    };
    let mut prev_digit = None;
    for c in body.chars() {
        if c.is_alphanumeric() {
            let is_digit = c.is_ascii_digit();
            if prev_digit.is_some_and(|p| p != is_digit) {
                flush(&mut run, &mut words);
            }
            prev_digit = Some(is_digit);
            run.push(c);
            continue;
        }
        flush(&mut run, &mut words);
        prev_digit = None;
        let w = match c {
            '.' => "dot",
            '/' => "slash",
            '-' => "dash",
            '_' => "underscore",
            ':' => "colon",
            '?' => "question mark",
            '=' => "equals",
            '&' => "and",
            '#' => "hash",
            '@' => "at",
            '~' => "tilde",
            '%' => "percent",
            '+' => "plus",
            _ => "",
        };
        if !w.is_empty() {
            words.push(w.to_string());
        }
    }
    flush(&mut run, &mut words);
    words.join(" ")
}

fn prev_word(before: &str) -> &str {
    before
        .trim_end()
        .rsplit(|c: char| c.is_whitespace())
        .next()
        .unwrap_or("")
}

fn next_word(after: &str) -> &str {
    after
        .trim_start()
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap_or("")
}

fn starts_upper(w: &str) -> bool {
    w.chars().next().is_some_and(|c| c.is_uppercase())
}

/// Expansion for an abbreviation match, or `None` to leave the text as is.
fn expand_abbreviation(abbr: &str, dotted: bool, before: &str, after: &str) -> Option<String> {
    let prev = prev_word(before);
    let next = next_word(after);
    // The previous word names the street ("Baker St.", "5th Ave") when it is
    // capitalized or a number and not itself the first word of a sentence.
    let prev_names_place = !prev.is_empty()
        && (starts_upper(prev) || prev.chars().any(|c| c.is_ascii_digit()))
        && !prev.ends_with(['.', '!', '?']);
    let next_is_name = starts_upper(next);
    let w = match abbr {
        // Titles: only before a name, so "Dr" alone and "MR" stay untouched.
        "Mr" if dotted || next_is_name => "Mister",
        "Mrs" if dotted || next_is_name => "Missus",
        "Ms" if dotted || next_is_name => "Miz",
        "Prof" if dotted || next_is_name => "Professor",
        "Dr" if dotted || next_is_name => {
            if prev_names_place && !next_is_name {
                "Drive"
            } else {
                "Doctor"
            }
        }
        "St" if dotted || next_is_name => {
            if prev_names_place || !next_is_name {
                "Street"
            } else {
                "Saint"
            }
        }
        "Jr" if dotted => "Junior",
        "Sr" if dotted => "Senior",
        "Mt" if dotted => "Mount",
        "Ft" if dotted => "Fort",
        "Ave" if dotted => "Avenue",
        "Blvd" if dotted => "Boulevard",
        "Rd" if dotted => "Road",
        "Gen" if dotted && next_is_name => "General",
        "Capt" if dotted => "Captain",
        "Lt" if dotted => "Lieutenant",
        "Sgt" if dotted => "Sergeant",
        "Rev" if dotted && next_is_name => "Reverend",
        "Gov" if dotted && next_is_name => "Governor",
        "Inc" if dotted => "Incorporated",
        "Ltd" if dotted => "Limited",
        "Co" if dotted => "Company",
        "Corp" if dotted => "Corporation",
        "Dept" if dotted => "Department",
        "approx" if dotted => "approximately",
        "vs" => "versus",
        "etc" if dotted => "et cetera",
        // "No." is "number" only before a digit; otherwise it is the word no.
        "No" if dotted && next.starts_with(|c: char| c.is_ascii_digit()) => "number",
        "Nos" if dotted && next.starts_with(|c: char| c.is_ascii_digit()) => "numbers",
        m if dotted && month_index(m).is_some() && m.len() <= 4 => {
            return month_index(m).map(|i| MONTHS[i].to_string());
        }
        _ => return None,
    };
    Some(w.to_string())
}

/// Words after which a Roman numeral is a plain number ("Chapter IV" →
/// "Chapter four", "World War II" → "World War two").
const ROMAN_CARDINAL_CONTEXT: &[&str] = &[
    "War", "Chapter", "Part", "Volume", "Vol", "Book", "Act", "Scene", "Phase", "Type", "Class",
    "Level", "Stage", "Section", "Round", "Episode", "Season", "Article", "Title", "Appendix",
    "Apollo", "Bowl", "Schedule", "Tier", "Grade", "Unit", "Psalm", "Canto",
];

/// Uppercase words that happen to be valid Roman numerals but are read as
/// letters or words ("Washington DC", "a CD", "size XL").
const NOT_ROMAN: &[&str] = &[
    "DC", "CD", "MD", "MC", "CV", "CC", "CM", "MM", "XL", "MIX", "DIV", "CIV", "DI", "LI", "MI",
    "DL", "VC", "ML", "MCC", "CCD", "DCL", "CLI", "LCD", "DVD",
];

/// Value of a canonical Roman numeral (1–3999), `None` otherwise. Checked
/// by writing the value back: "IIII" or "VX" are not numerals.
fn roman_value(r: &str) -> Option<u32> {
    let val = |c: char| match c {
        'I' => Some(1),
        'V' => Some(5),
        'X' => Some(10),
        'L' => Some(50),
        'C' => Some(100),
        'D' => Some(500),
        'M' => Some(1000),
        _ => None,
    };
    let vals: Vec<i64> = r.chars().map(val).collect::<Option<_>>()?;
    let mut total: i64 = 0;
    for (i, &v) in vals.iter().enumerate() {
        if vals.get(i + 1).is_some_and(|&n| n > v) {
            total -= v;
        } else {
            total += v;
        }
    }
    let total = u32::try_from(total).ok().filter(|t| (1..4000).contains(t))?;
    (to_roman(total) == r).then_some(total)
}

fn to_roman(mut n: u32) -> String {
    const TABLE: [(u32, &str); 13] = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut out = String::new();
    for (v, s) in TABLE {
        while n >= v {
            out.push_str(s);
            n -= v;
        }
    }
    out
}

/// "Chapter IV" → "Chapter four"; "Henry VIII" → "Henry the eighth"
/// (espeak would say "Roman eight"). A lone "I" is only a numeral after a
/// counting word ("Part I"), never after a name ("Then I").
fn read_roman(word: &str, numeral: &str, style: NumberStyle) -> Option<String> {
    // Capitalized only because they start a sentence: not names.
    const NOT_NAMES: &[&str] = &[
        "The", "A", "An", "And", "But", "Or", "So", "Then", "If", "When", "In", "On", "At", "To",
        "For", "With", "By", "From", "Of", "As", "It", "We", "You", "They", "He", "She", "This",
        "That", "My", "Our", "Your", "Size", "Generation", "Model", "Mark",
    ];
    if NOT_ROMAN.contains(&numeral) || NOT_NAMES.contains(&word) {
        return None;
    }
    let value = roman_value(numeral)?;
    let counting = ROMAN_CARDINAL_CONTEXT.contains(&word);
    if counting {
        return Some(format!("{word} {}", numbers::cardinal_u64(value as u64, style)));
    }
    if numeral.len() < 2 {
        return None;
    }
    Some(format!("{word} the {}", numbers::ordinal(&value.to_string(), style)))
}

/// Symbols read as words. `-`, `/` and `'` inside words are left to
/// espeak, which reads compounds and contractions correctly.
fn replace_symbols(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let prev = if i > 0 { chars[i - 1] } else { ' ' };
        let next = chars.get(i + 1).copied().unwrap_or(' ');
        let word = match c {
            '&' => Some("and"),
            '@' => Some("at"),
            '+' => Some("plus"),
            '=' => Some("equals"),
            '×' => Some("times"),
            '%' => Some("percent"),
            '°' => Some("degrees"),
            '~' if next.is_ascii_digit() || next == ' ' => Some("about"),
            '/' if prev.is_alphanumeric() && next.is_alphanumeric() => Some("slash"),
            '–' if prev == ' ' && next == ' ' => Some("—"),
            _ => None,
        };
        match word {
            Some(w) => {
                out.push(' ');
                out.push_str(w);
                out.push(' ');
            }
            None => out.push(c),
        }
    }
    out
}
