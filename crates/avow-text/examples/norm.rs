//! Prints the English normalization of each argument line (en-us, then en-gb).
fn main() {
    for line in std::env::args().skip(1) {
        let us = avow_text::normalize::normalize(&line, avow_text::Language::EnUs);
        let gb = avow_text::normalize::normalize(&line, avow_text::Language::EnGb);
        println!("{line:?}\n  us: {us}\n  gb: {gb}");
    }
}
