//! Sentences the style search synthesizes. Written for this project: short
//! (two to three seconds of speech, so a gradient step stays cheap), varied in
//! vowels, consonant clusters, voicing and intonation (statements, questions,
//! exclamations, lists), and none of them in the evaluation set.

/// English training sentences.
pub const TRAINING_EN: &[&str] = &[
    "The kettle whistled while we packed the boxes.",
    "Could you bring the blue chair over here?",
    "Seven shy foxes jumped across the frozen river.",
    "I thought the movie was much better than the book.",
    "Please check the oven before you leave the house.",
    "Why would anyone paint a garage bright yellow?",
    "Our neighbours grow tomatoes, beans and sweet peppers.",
    "She measured the board twice and cut it once.",
    "The morning train was late again, wasn't it?",
    "Thick clouds rolled over the quiet harbour town.",
    "We should have called my uncle on Sunday.",
    "A young judge ruled on the unusual case.",
    "How much does a ticket to the museum cost?",
    "The children laughed at the clumsy puppet show.",
    "Warm bread smells wonderful early in the day.",
    "Look out, the paint on that wall is still wet!",
];
