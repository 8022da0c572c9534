//! English normalization table: input → what a careful reader says.

use avow_text::normalize::normalize;
use avow_text::Language::{EnGb, EnUs, Es, Fr};

const US_CASES: &[(&str, &str)] = &[
    // cardinals, decimals, negatives, separators
    ("I have 3 cats.", "I have three cats."),
    ("It costs 1,234,567 dollars.", "It costs one million two hundred thirty-four thousand five hundred sixty-seven dollars."),
    ("Pi is 3.14159.", "Pi is three point one four one five nine."),
    ("It was -5 degrees.", "It was minus five degrees."),
    ("-12.5", "minus twelve point five"),
    ("Room 101", "Room one hundred one"),
    ("It had 1500 pages.", "It had one thousand five hundred pages."),
    ("007", "zero zero seven"),
    ("COVID-19", "COVID nineteen"),
    ("MP3 and 4K", "MP three and four K"),
    // ordinals
    ("He came 1st, she 22nd and they 103rd.", "He came first, she twenty-second and they one hundred third."),
    ("the 11th hour", "the eleventh hour"),
    // years and decades
    ("In 1999 we met.", "In nineteen ninety-nine we met."),
    ("2024 was good", "twenty twenty-four was good"),
    ("since 2005", "since two thousand five"),
    ("in 1905 and in 1900", "in nineteen oh five and in nineteen hundred"),
    ("I bought 2024 apples", "I bought two thousand twenty-four apples"),
    ("The 1990s and the '80s.", "The nineteen nineties and the eighties."),
    // currency
    ("$5.50", "five dollars and fifty cents"),
    ("$1", "one dollar"),
    ("$0.99", "ninety-nine cents"),
    ("£3", "three pounds"),
    ("£3.20", "three pounds and twenty pence"),
    ("€1,200", "one thousand two hundred euros"),
    ("5 USD", "five dollars"),
    ("$1.5 million", "one point five million dollars"),
    ("$20k", "twenty thousand dollars"),
    // percentages
    ("50%", "fifty percent"),
    ("12.5 %", "twelve point five percent"),
    // dates
    ("2024-03-15", "March fifteenth, twenty twenty-four"),
    ("15/03/2024", "March fifteenth, twenty twenty-four"),
    ("03/04/2024", "March fourth, twenty twenty-four"),
    ("12/25/24", "December twenty-fifth, twenty twenty-four"),
    ("March 3", "March third"),
    ("March 3rd, 2024", "March third, twenty twenty-four"),
    ("3 March 2024", "the third of March, twenty twenty-four"),
    ("on the 3rd of March", "on the third of March"),
    ("Jan. 5", "January fifth"),
    // times
    ("10:30", "ten thirty"),
    ("10:05", "ten oh five"),
    ("10:00", "ten o'clock"),
    ("3pm", "three PM"),
    ("We left at 10:30 a.m.", "We left at ten thirty AM."),
    ("7:45 PM", "seven forty-five PM"),
    // abbreviations
    ("Dr. Smith lives on Elm Dr. near St. Louis.", "Doctor Smith lives on Elm Drive near Saint Louis."),
    ("Mr. and Mrs. Jones met Ms. Lee and Prof. Xavier.", "Mister and Missus Jones met Miz Lee and Professor Xavier."),
    ("Fruits, e.g. apples, i.e. red ones, etc.", "Fruits, for example apples, that is red ones, et cetera."),
    ("Cats vs. dogs", "Cats versus dogs"),
    ("Baker St. is busy", "Baker Street is busy"),
    ("No. 5", "number five"),
    ("No. I won't.", "No. I won't."),
    // URLs, e-mail, symbols
    ("Visit https://www.example.com/path?q=1.", "Visit w w w dot example dot com slash path question mark q equals one."),
    ("Mail john.doe@example.org now", "Mail john dot doe at example dot org now"),
    ("example.com is up", "example dot com is up"),
    ("Tom & Jerry", "Tom and Jerry"),
    ("1 + 2 = 3", "one plus two equals three"),
    ("Call me @ home", "Call me at home"),
    ("#1 hit", "number one hit"),
    // units, fractions, ranges, versions, phone numbers
    ("5 km and 1 kg and 10 kg", "five kilometers and one kilogram and ten kilograms"),
    ("100 mph", "one hundred miles per hour"),
    ("25°C", "twenty-five degrees Celsius"),
    ("1/2 and 3/4 and 2/3", "one half and three quarters and two thirds"),
    ("pages 10-20", "pages ten to twenty"),
    ("version 1.2.3", "version one point two point three"),
    ("Call 1-800-555-0199", "Call one, eight zero zero, five five five, zero one nine nine"),
    // Roman numerals (espeak alone says "Roman two")
    ("World War II ended.", "World War two ended."),
    ("Henry VIII and Louis XIV", "Henry the eighth and Louis the fourteenth"),
    ("Read Chapter IV and Part I.", "Read Chapter four and Part one."),
    ("Then I went to Washington DC.", "Then I went to Washington DC."),
    // nothing to do
    ("It's 5 o'clock", "It's five o'clock"),
    ("Plain words stay.", "Plain words stay."),
];

#[test]
fn american_english_table() {
    let mut failures = Vec::new();
    for (input, want) in US_CASES {
        let got = normalize(input, EnUs);
        if got != *want {
            failures.push(format!("{input:?}\n   got: {got:?}\n  want: {want:?}"));
        }
    }
    assert!(US_CASES.len() >= 40);
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn british_english_differs_where_it_should() {
    let cases: &[(&str, &str)] = &[
        ("Room 101", "Room one hundred and one"),
        ("2005", "two thousand and five"),
        ("03/04/2024", "the third of April, twenty twenty-four"),
        ("2024-03-15", "the fifteenth of March, twenty twenty-four"),
        ("15/03/2024", "the fifteenth of March, twenty twenty-four"),
    ];
    for (input, want) in cases {
        assert_eq!(normalize(input, EnGb), *want, "{input:?}");
    }
}

#[test]
fn other_languages_keep_digits_for_espeak() {
    // Numbers are left to espeak-ng's own number reading there; only dates
    // and currency amounts are rewritten.
    assert_eq!(normalize("Tengo  25\u{200F} años.", Es), "Tengo 25 años.");
    assert_eq!(normalize("J'ai\t21\u{0007} ans", Fr), "J'ai 21 ans");
    assert_eq!(normalize("Nací el 2024-03-15 y pagué $5.", Es), "Nací el 15 de marzo de 2024 y pagué 5 dólares.");
    assert_eq!(normalize("Le 14/07/1789, 10 €.", Fr), "Le 14 juillet 1789, 10 euros.");
}

#[test]
fn huge_number_is_read_digit_by_digit() {
    let digits = "7".repeat(100_000);
    let out = normalize(&digits, EnUs);
    assert_eq!(out.split(' ').count(), 100_000);
    assert!(out.split(' ').all(|w| w == "seven"));
}
