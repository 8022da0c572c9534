//! The stock voices and their signed consent records, compiled into the
//! binary so an installed `avow` needs nothing from the source tree. The
//! records are signed by the project's stock-voice key, whose public half is
//! a built-in trust root; they name the sha256 of the voice packs that
//! `avow models fetch` produces.

/// Names of the stock voices, in display order.
pub const STOCK_VOICES: &[&str] = &["jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"];

/// The signed record of stock voice `name`.
pub fn record(name: &str) -> Option<&'static str> {
    Some(match name {
        "jf_alpha" => include_str!("../../../voices/jf_alpha.consent.json"),
        "jf_gongitsune" => include_str!("../../../voices/jf_gongitsune.consent.json"),
        "jf_nezumi" => include_str!("../../../voices/jf_nezumi.consent.json"),
        "jf_tebukuro" => include_str!("../../../voices/jf_tebukuro.consent.json"),
        "jm_kumo" => include_str!("../../../voices/jm_kumo.consent.json"),
        _ => return None,
    })
}
