//! Light normalization for the non-English languages.
//!
//! espeak-ng reads cardinals, decimals, percentages and times well in
//! es/fr/it/pt/hi, so digits are left to it. What it gets wrong, and what
//! is fixed here by rewriting into words it then reads correctly:
//! - dates: "2024-03-15" became "two thousand twenty-four minus zero three
//!   minus fifteen" (pt) and "15/03/2024" "fifteen slash ..." (es); both are
//!   rewritten as "15 de marzo de 2024" / "15 mars 2024" (day first, as
//!   these languages write dates; the numbers stay digits for espeak);
//! - currency symbols: "$5" was read "dollar five" and "5€" "five euro"
//!   (singular); they become "5 dólares", "5 euros", ...

use std::sync::OnceLock;

use regex::{Captures, Regex};

use crate::lang::Language;

struct Words {
    months: [&'static str; 12],
    /// How a date is laid out: `{d}`, `{m}`, `{y}` are replaced.
    date: &'static str,
    dollars: &'static str,
    dollar: &'static str,
    euros: &'static str,
    euro: &'static str,
    pounds: &'static str,
    pound: &'static str,
}

fn words(lang: Language) -> Option<Words> {
    Some(match lang {
        Language::Es => Words {
            months: [
                "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
                "septiembre", "octubre", "noviembre", "diciembre",
            ],
            date: "{d} de {m} de {y}",
            dollars: "dólares",
            dollar: "dólar",
            euros: "euros",
            euro: "euro",
            pounds: "libras",
            pound: "libra",
        },
        Language::Fr => Words {
            months: [
                "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                "septembre", "octobre", "novembre", "décembre",
            ],
            date: "{d} {m} {y}",
            dollars: "dollars",
            dollar: "dollar",
            euros: "euros",
            euro: "euro",
            pounds: "livres",
            pound: "livre",
        },
        Language::It => Words {
            months: [
                "gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio",
                "agosto", "settembre", "ottobre", "novembre", "dicembre",
            ],
            date: "{d} {m} {y}",
            dollars: "dollari",
            dollar: "dollaro",
            euros: "euro",
            euro: "euro",
            pounds: "sterline",
            pound: "sterlina",
        },
        Language::PtBr => Words {
            months: [
                "janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
                "setembro", "outubro", "novembro", "dezembro",
            ],
            date: "{d} de {m} de {y}",
            dollars: "dólares",
            dollar: "dólar",
            euros: "euros",
            euro: "euro",
            pounds: "libras",
            pound: "libra",
        },
        Language::Hi => Words {
            months: [
                "जनवरी", "फ़रवरी", "मार्च", "अप्रैल", "मई", "जून", "जुलाई", "अगस्त", "सितंबर",
                "अक्टूबर", "नवंबर", "दिसंबर",
            ],
            date: "{d} {m} {y}",
            dollars: "डॉलर",
            dollar: "डॉलर",
            euros: "यूरो",
            euro: "यूरो",
            pounds: "पाउंड",
            pound: "पाउंड",
        },
        Language::EnUs | Language::EnGb => return None,
    })
}

struct Patterns {
    iso_date: Regex,
    dmy_date: Regex,
    currency_before: Regex,
    currency_after: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        // Constant patterns: covered by the unit tests.
        let re = |s: &str| Regex::new(s).expect("constant regex");
        let num = r"[0-9]+(?:[.,\s][0-9]{3})*(?:[.,][0-9]+)?";
        Patterns {
            iso_date: re(r"\b([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})\b"),
            dmy_date: re(r"\b([0-9]{1,2})[/.]([0-9]{1,2})[/.]([0-9]{4})\b"),
            currency_before: re(&format!(r"([$€£])\s?({num})")),
            currency_after: re(&format!(r"({num})\s?([$€£])")),
        }
    })
}

fn date(w: &Words, y: &str, m: &str, d: &str) -> Option<String> {
    let mi: usize = m.parse().ok()?;
    let di: u32 = d.parse().ok()?;
    if !(1..=12).contains(&mi) || !(1..=31).contains(&di) {
        return None;
    }
    Some(
        w.date
            .replace("{d}", &di.to_string())
            .replace("{m}", w.months[mi - 1])
            .replace("{y}", y),
    )
}

fn money(w: &Words, amount: &str, symbol: &str) -> String {
    let one = amount == "1";
    let name = match (symbol, one) {
        ("$", true) => w.dollar,
        ("$", false) => w.dollars,
        ("€", true) => w.euro,
        ("€", false) => w.euros,
        (_, true) => w.pound,
        (_, false) => w.pounds,
    };
    format!("{amount} {name}")
}

/// Rewrites dates and currency amounts for espeak in `lang`; English and
/// anything else unchanged.
pub fn normalize(text: &str, lang: Language) -> String {
    let Some(w) = words(lang) else {
        return text.to_string();
    };
    let p = patterns();
    let s = p.iso_date.replace_all(text, |c: &Captures| {
        date(&w, &c[1], &c[2], &c[3]).unwrap_or_else(|| c[0].to_string())
    });
    let s = p.dmy_date.replace_all(&s, |c: &Captures| {
        date(&w, &c[3], &c[2], &c[1]).unwrap_or_else(|| c[0].to_string())
    });
    let s = p
        .currency_before
        .replace_all(&s, |c: &Captures| money(&w, c[2].trim(), &c[1]));
    let s = p
        .currency_after
        .replace_all(&s, |c: &Captures| money(&w, c[1].trim(), &c[2]));
    s.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_money() {
        assert_eq!(normalize("el 2024-03-15", Language::Es), "el 15 de marzo de 2024");
        assert_eq!(normalize("le 15/03/2024", Language::Fr), "le 15 mars 2024");
        assert_eq!(normalize("il 01.12.1999", Language::It), "il 1 dicembre 1999");
        assert_eq!(normalize("custa $5", Language::PtBr), "custa 5 dólares");
        assert_eq!(normalize("cuesta 1€ o 3,50 €", Language::Es), "cuesta 1 euro o 3,50 euros");
        assert_eq!(normalize("32/13/2024", Language::Es), "32/13/2024");
        assert_eq!(normalize("2024-03-15", Language::EnUs), "2024-03-15");
        assert_eq!(normalize("15/03/2024", Language::Hi), "15 मार्च 2024");
    }
}
