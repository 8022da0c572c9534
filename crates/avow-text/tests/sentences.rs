//! Sentence splitting.

use avow_text::sentence::split_sentences;

#[test]
fn split_cases() {
    let cases: &[(&str, &[&str])] = &[
        ("Hello there. How are you? Fine!", &["Hello there.", "How are you?", "Fine!"]),
        ("Dr. Smith arrived. He sat down.", &["Dr. Smith arrived.", "He sat down."]),
        ("Mr. and Mrs. Jones left at 5 p.m. Then it rained.", &["Mr. and Mrs. Jones left at 5 p.m.", "Then it rained."]),
        ("Pi is 3.14. Tau is 6.28.", &["Pi is 3.14.", "Tau is 6.28."]),
        ("Fruits, e.g. apples, are good.", &["Fruits, e.g. apples, are good."]),
        ("J. R. R. Tolkien wrote it.", &["J. R. R. Tolkien wrote it."]),
        ("Visit example.com. It is fine.", &["Visit example.com.", "It is fine."]),
        ("Wait... what? Really?!", &["Wait... what?", "Really?!"]),
        ("He said \"Stop.\" Then he left.", &["He said \"Stop.\"", "Then he left."]),
        ("We sell apples, pears, etc. Come by!", &["We sell apples, pears, etc.", "Come by!"]),
        ("It costs $5 vs. $6 there.", &["It costs $5 vs. $6 there."]),
        ("See No. 5 on St. Mark's list.", &["See No. 5 on St. Mark's list."]),
        ("Yahoo! is a site.", &["Yahoo! is a site."]),
        ("First line\n\nSecond paragraph", &["First line", "Second paragraph"]),
        ("No ending punctuation", &["No ending punctuation"]),
        ("¿Qué tal? ¡Muy bien!", &["¿Qué tal?", "¡Muy bien!"]),
        ("नमस्ते। आप कैसे हैं?", &["नमस्ते।", "आप कैसे हैं?"]),
        ("   ", &[]),
        ("", &[]),
    ];
    for (input, want) in cases {
        assert_eq!(split_sentences(input), *want, "{input:?}");
    }
}
