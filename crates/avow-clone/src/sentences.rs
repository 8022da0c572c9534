//! Sentences the style search synthesizes. Written for this project: short
//! (two to three seconds of speech, so a gradient step stays cheap), varied in
//! vowels, consonant clusters, voicing and intonation (statements, questions,
//! exclamations, lists), and none of them in the evaluation set.

/// English training sentences. American spellings: the voices speak en-us,
/// and the intelligibility guard compares Whisper's (American) transcripts
/// with these texts word for word.
pub const TRAINING_EN: &[&str] = &[
    "The kettle whistled while we packed the boxes.",
    "Could you bring the blue chair over here?",
    "Seven shy foxes jumped across the frozen river.",
    "I thought the movie was much better than the book.",
    "Please check the oven before you leave the house.",
    "Why would anyone paint a garage bright yellow?",
    "Our neighbors grow tomatoes, beans and sweet peppers.",
    "She measured the board twice and cut it once.",
    "The morning train was late again, wasn't it?",
    "Thick clouds rolled over the quiet harbor town.",
    "We should have called my uncle on Sunday.",
    "A young judge ruled on the unusual case.",
    "How much does a ticket to the museum cost?",
    "The children laughed at the clumsy puppet show.",
    "Warm bread smells wonderful early in the day.",
    "Look out, the paint on that wall is still wet!",
];

/// English sentences the cloning and banking benchmarks judge voices on:
/// never trained on by the style search (not in [`TRAINING_EN`]).
pub const EVAL_EN: &[&str] = &[
    "The old lighthouse keeper counted ships until dawn.",
    "Do you remember where we parked the car last night?",
    "Fresh snow covered the fields behind the farmhouse.",
    "My sister finally fixed the squeaky garden gate.",
    "It is much too cold to go swimming today.",
    "They sold every single painting at the spring fair.",
    "Which road leads to the station from here?",
    "The baker rose early to light the big stone oven.",
    "We watched the storm from the kitchen window.",
    "Nobody expected the quiet student to win the prize.",
];
