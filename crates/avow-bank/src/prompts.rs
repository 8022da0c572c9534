//! What the speaker reads when banking: a built-in list of English prompts,
//! and user-supplied prompt files.
//!
//! [`PROMPTS_EN_US`] holds 150 sentences (Apple's Personal Voice asks for
//! 150 phrases), written for this project (no third-party text), so the list
//! can ship under the crate's license. They mix statements, questions and
//! exclamations of 6 to 12 words, many of them things a person who uses an
//! AAC device may want to say in their own voice. The list is
//! phonetically balanced in the sense a unit test measures: through our
//! phonemizer (espeak-ng en-us, rewritten to Kokoro's notation) every symbol
//! of [`EN_US_PHONEMES`] occurs at least [`MIN_OCCURRENCES`] times, and the
//! prompts produce no phoneme outside that inventory.
//!
//! This module has no audio or phonemizer dependency; the test brings them.

/// The built-in banking prompts (American English), in recording order.
pub const PROMPTS_EN_US: &[&str] = &[
    "I would like a cup of tea with a little milk, please.",
    "Could you open the window? It feels warm in here.",
    "The garage door was left open again last night.",
    "My brother usually visits us on Sunday afternoons.",
    "Thank you so much for coming all this way to see me.",
    "Where did you put the blue notebook I was reading?",
    "The children laughed when the puppy chased its own tail.",
    "Please turn the radio down a little; I can't hear you.",
    "We planted tomatoes, beans and sweet peas along the fence.",
    "That was the best birthday surprise I have ever had!",
    "The measure of a good friend is how well they listen.",
    "Would you rather walk to the village or take the bus?",
    "Her voice was calm, but her hands were shaking.",
    "I'm not hungry right now, but I'll eat something later.",
    "The old bridge creaked as the heavy truck rolled across.",
    "Let's watch the football game together this evening.",
    "It took a thousand tiny pieces to finish that puzzle.",
    "Don't forget to water the plants on the balcony.",
    "The museum has a fine collection of Roman coins.",
    "Why is the kettle making that strange whistling noise?",
    "I love the smell of fresh bread in the morning.",
    "He wrote a long letter to his cousin in Ireland.",
    "The weather forecast says it will rain until Thursday.",
    "Could you help me find my glasses? I think I dropped them.",
    "A gentle breeze carried the scent of pine through the valley.",
    "My favorite season is fall, when the leaves turn gold and red.",
    "She treasured the beige leather journal her mother gave her.",
    "We should leave early to avoid the traffic on the highway.",
    "How many people are coming to dinner on Friday?",
    "The kitten curled up on the cushion and fell asleep.",
    "I'm sorry, I didn't quite catch what you said.",
    "The mountain path was steep, rocky and covered in mud.",
    "Every Tuesday we play cards with the neighbors.",
    "That joke was so funny I couldn't stop laughing!",
    "Please remind me to call the doctor's office tomorrow.",
    "The button on my coat came loose this morning.",
    "Is it true that you once met the president?",
    "The choir sang beautifully at the wedding.",
    "I usually have oatmeal and orange juice for breakfast.",
    "Thunder rumbled in the distance as the storm approached.",
    "Could you read the next chapter aloud to me?",
    "He fixed the broken chair with glue and a few nails.",
    "The vision of the lighthouse at dusk stayed with me for years.",
    "What a lovely surprise to see you here!",
    "The train to the city leaves at half past eight.",
    "I need a moment to think about my answer.",
    "They enjoyed a quiet picnic beside the river.",
    "My grandfather built this house with his own hands.",
    "Would you pass me the salt and pepper, please?",
    "The television was too loud, so I switched it off.",
    "Our team won the championship after a long, tough season.",
    "She poured the boiling water carefully into the pot.",
    "I can't remember where I parked the car.",
    "The cotton sheets felt cool and soft against my skin.",
    "Let me know if you need anything else.",
    "Yesterday the wind blew the fence down in the yard.",
    "The doctor said my blood pressure is normal.",
    "Have you ever seen the northern lights?",
    "The crowd cheered loudly as the runners crossed the line.",
    "I'd prefer the window seat if there's one available.",
    "Ice cream always tastes better on a hot summer day.",
    "He measured the table twice before cutting the wood.",
    "Please don't worry about me; I'm feeling much better.",
    "The rabbit hid beneath the hedge until the dog had gone.",
    "Our flight was delayed because of thick fog.",
    "My sister is learning to play the violin.",
    "What time does the pharmacy close on Saturday?",
    "The soup needs a pinch more salt and some pepper.",
    "They hiked through the forest and camped near a lake.",
    "It's certainly colder today than it was yesterday.",
    "The usual treatment is rest and plenty of fluids.",
    "I enjoy listening to jazz on quiet evenings.",
    "Who left the muddy boots in the hallway?",
    "The baker decorated the cake with pink and yellow roses.",
    "Could you speak a little more slowly, please?",
    "Moist soil helps the young seeds sprout quickly.",
    "The ship sailed north toward the frozen islands.",
    "I'm so proud of everything you've achieved.",
    "The library will be closed for repairs next week.",
    "Grab an umbrella; it looks like it might pour.",
    "Her laughter echoed through the empty hall.",
    "This is the most delicious pie I've ever tasted!",
    "He adjusted the mirror before pulling out of the driveway.",
    "The lawyer explained the contract in plain language.",
    "Do you want to join us for lunch at noon?",
    "Seven geese flew over the barn in a perfect line.",
    "I hope the package arrives before the weekend.",
    "The old clock on the wall stopped at midnight.",
    "My throat is sore, so I'll keep this short.",
    "They painted the kitchen a pale shade of green.",
    "She whispered the secret so that nobody else could hear.",
    "The engine coughed twice and then roared into life.",
    "Could I have the check, please?",
    "A flock of sparrows landed on the telephone wire.",
    "We spent the whole afternoon sorting old photographs.",
    "The pleasure of a good book is hard to beat.",
    "I've written down the address so I won't forget it.",
    "Which road leads to the beach?",
    "The judge listened carefully to both sides of the argument.",
    "My feet are cold; could you fetch my thick socks?",
    "The shop on the corner sells fresh fruit and vegetables.",
    "We watched the sunset from the top of the hill.",
    "There's a leak under the sink that needs fixing.",
    "It's a pleasure to meet you at last.",
    "The fisherman pulled a huge trout out of the stream.",
    "I'd like to thank everyone who helped me this year.",
    "The garden looks wonderful after all that rain.",
    "Please keep the noise down; the baby is sleeping.",
    "He ordered a cheese sandwich and a glass of milk.",
    "The theater was packed for the opening night.",
    "Are you sure this is the right way to the station?",
    "Sharp rocks lined the edge of the narrow canyon.",
    "I'm looking forward to seeing the grandchildren.",
    "The nurse checked my temperature and wrote it down.",
    "A cold wind whistled through the cracks in the door.",
    "Nothing beats a hot bath after a long walk.",
    "The toy boat drifted slowly across the pond.",
    "Can we talk about this again tomorrow morning?",
    "My neighbor's dog barks whenever the mail arrives.",
    "The dancers moved gracefully across the stage.",
    "It's been raining all week, and the river is rising.",
    "He joined the army when he was only eighteen.",
    "I appreciate your patience while I find the words.",
    "The bright yellow kite soared high above the beach.",
    "Your casual remark caught everyone by surprise.",
    "The sheep huddled together in the corner of the field.",
    "Would you like me to make some coffee?",
    "The thief escaped through an open window at the back.",
    "She bought a new pair of shoes for the party.",
    "I wonder what the weather will be like in June.",
    "The bottle rolled off the table and shattered on the floor.",
    "Good morning! Did you sleep well?",
    "The boy pointed at the enormous whale and shouted with joy.",
    "Please let my family know that I love them.",
    "This bread is still warm from the oven.",
    "The puzzle box was locked with a tiny golden key.",
    "Honestly, I think we should wait and see.",
    "The rain stopped, and a rainbow appeared over the hills.",
    "I need help getting out of this chair.",
    "The villagers gathered in the square to celebrate.",
    "He poured himself a large mug of hot chocolate.",
    "That's exactly what I was going to say!",
    "The frightened deer leapt over the stone wall.",
    "Could you switch on the lamp beside my bed?",
    "Our journey through the desert lasted three days.",
    "The students listened closely to the visiting author.",
    "I'll never forget the day we first met.",
    "It's too bright in here; could you close the curtains?",
    "Her garage is full of boxes, bikes and garden tools.",
    "Goodnight, and thank you for a wonderful day.",
];

/// The phonemes American English speech reaches Kokoro with: every symbol
/// (other than stress marks, punctuation and spaces) that
/// `avow_text::kokoro_ipa::espeak_to_kokoro` can leave in en-us text, i.e.
/// misaki's US inventory. Multi-letter phonemes are single symbols here
/// (`A` = eɪ, `I` = aɪ, `O` = oʊ, `W` = aʊ, `Y` = ɔɪ, `ʤ`, `ʧ`); `ᵊ` is the
/// small schwa of syllabic l/n, `ᵻ` the vowel of -ed/-es endings, `ɐ` the
/// weak article, `ɾ` the flap in "water", and `ʔ` the glottal stop of
/// "button" (US `ʔn`).
pub const EN_US_PHONEMES: &[char] = &[
    // Consonants.
    'b', 'd', 'f', 'h', 'j', 'k', 'l', 'm', 'n', 'p', 's', 't', 'v', 'w', 'z', 'ð', 'ŋ', 'ɡ', 'ɹ',
    'ɾ', 'ʃ', 'ʒ', 'ʔ', 'ʤ', 'ʧ', 'θ',
    // Vowels and diphthongs.
    'A', 'I', 'O', 'W', 'Y', 'i', 'u', 'æ', 'ɐ', 'ɑ', 'ɔ', 'ə', 'ɛ', 'ɜ', 'ɪ', 'ʊ', 'ʌ', 'ᵊ', 'ᵻ',
];

/// Fewest times each symbol of [`EN_US_PHONEMES`] occurs across
/// [`PROMPTS_EN_US`] (checked by a unit test through the phonemizer), so each
/// sound is heard in several contexts during training.
pub const MIN_OCCURRENCES: usize = 5;

/// Longest prompt accepted from a prompt file, in bytes: a prompt is one
/// recording, and one recording must fit the model's token limit.
pub const MAX_PROMPT_BYTES: usize = 400;

/// Why a prompt file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    /// No prompt in it.
    #[error("the prompt file has no prompts (one per line; blank lines and lines starting with # are skipped)")]
    Empty,
    /// A line too long to be read as one recording.
    #[error("prompt on line {line} is {bytes} bytes long; at most {max} fit one recording")]
    TooLong {
        /// Line number, from 1.
        line: usize,
        /// Its length.
        bytes: usize,
        /// [`MAX_PROMPT_BYTES`].
        max: usize,
    },
    /// A line with control characters (a binary file, most likely).
    #[error("line {line} contains control characters; a prompt file is plain text, one prompt per line")]
    ControlCharacters {
        /// Line number, from 1.
        line: usize,
    },
}

/// Reads a user's prompt list: one prompt per line, surrounding whitespace
/// trimmed, blank lines and `#` comment lines skipped. The order is kept
/// (it is the recording order and the file numbering).
pub fn parse_prompt_file(text: &str) -> Result<Vec<String>, PromptError> {
    let mut prompts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let prompt = line.trim();
        if prompt.is_empty() || prompt.starts_with('#') {
            continue;
        }
        if prompt.chars().any(char::is_control) {
            return Err(PromptError::ControlCharacters { line: i + 1 });
        }
        if prompt.len() > MAX_PROMPT_BYTES {
            return Err(PromptError::TooLong { line: i + 1, bytes: prompt.len(), max: MAX_PROMPT_BYTES });
        }
        prompts.push(prompt.to_string());
    }
    if prompts.is_empty() {
        return Err(PromptError::Empty);
    }
    Ok(prompts)
}

/// The built-in prompts as owned strings (what a recording session takes).
pub fn builtin_prompts() -> Vec<String> {
    PROMPTS_EN_US.iter().map(|p| (*p).to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashSet};

    #[test]
    fn the_builtin_list_has_150_distinct_single_line_prompts() {
        assert_eq!(PROMPTS_EN_US.len(), 150);
        let distinct: HashSet<&str> = PROMPTS_EN_US.iter().copied().collect();
        assert_eq!(distinct.len(), PROMPTS_EN_US.len(), "a prompt is listed twice");
        // Each must survive a round trip through the prompt-file reader, so a
        // user can start their own list from the built-in one.
        let as_file = PROMPTS_EN_US.join("\n");
        assert_eq!(parse_prompt_file(&as_file).unwrap(), builtin_prompts());
    }

    #[test]
    fn prompt_files_skip_blanks_and_comments_and_refuse_junk() {
        let text = "# my phrases\n\n  Hello there.  \nI need a drink.\r\n#done\n";
        assert_eq!(parse_prompt_file(text).unwrap(), vec!["Hello there.".to_string(), "I need a drink.".to_string()]);
        assert_eq!(parse_prompt_file("\n# only a comment\n  \n"), Err(PromptError::Empty));
        let long = format!("ok\n{}\n", "word ".repeat(100));
        assert!(matches!(parse_prompt_file(&long), Err(PromptError::TooLong { line: 2, .. })));
        assert_eq!(parse_prompt_file("fine\nbad\u{0}line\n"), Err(PromptError::ControlCharacters { line: 2 }));
    }

    /// The en-us phonemes of `text` through the real front end, without
    /// stress marks, punctuation or spaces; `None` when espeak-ng is missing.
    fn phonemizer_front_end() -> Option<avow_text::TextFrontEnd<avow_phonemize::EspeakPhonemizer>> {
        let espeak = match avow_phonemize::EspeakPhonemizer::new() {
            Ok(p) => p,
            Err(e) => {
                assert!(std::env::var_os("AVOW_REQUIRE_MODELS").is_none(), "AVOW_REQUIRE_MODELS is set but espeak-ng is unavailable: {e}");
                eprintln!("skipping: espeak-ng is unavailable ({e})");
                return None;
            }
        };
        // The vocabulary that ships with the weights, as committed for avow-text's tests.
        let vocab_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../avow-text/tests/data/kokoro_vocab.json");
        let vocab = avow_text::KokoroVocab::from_json(&std::fs::read_to_string(vocab_path).unwrap()).unwrap();
        Some(avow_text::TextFrontEnd::new(espeak, vocab))
    }

    #[test]
    fn every_us_phoneme_occurs_often_enough_and_every_prompt_fits_the_model() {
        let Some(front) = phonemizer_front_end() else { return };
        for &symbol in EN_US_PHONEMES {
            assert!(front.vocab().contains(symbol), "{symbol:?} is not in Kokoro's vocabulary");
        }
        let inventory: HashSet<char> = EN_US_PHONEMES.iter().copied().collect();
        let mut counts: BTreeMap<char, usize> = EN_US_PHONEMES.iter().map(|&c| (c, 0)).collect();
        let mut outside: BTreeMap<char, Vec<&str>> = BTreeMap::new();
        let mut longest = 0;
        for prompt in PROMPTS_EN_US {
            let utterances = front.prepare(prompt, avow_text::Language::EnUs).unwrap();
            // `avow bank train` aligns a recording as the concatenated ids of
            // its transcript's sentences, which must fit one model call.
            let tokens: usize = utterances.iter().map(|u| u.ids.len()).sum();
            assert!(tokens > 0 && tokens <= avow_text::MAX_TOKENS, "{prompt:?}: {tokens} tokens");
            longest = longest.max(tokens);
            let phonemes: String = utterances.iter().map(|u| u.phonemes.as_str()).collect();
            for u in &utterances {
                assert!(u.unknown.is_empty(), "{prompt:?}: symbols outside the vocabulary: {:?}", u.unknown);
            }
            for c in phonemes.chars() {
                if matches!(c, 'ˈ' | 'ˌ' | ' ') || c.is_ascii_punctuation() || "—…“”".contains(c) {
                    continue;
                }
                if inventory.contains(&c) {
                    *counts.entry(c).or_default() += 1;
                } else {
                    outside.entry(c).or_default().push(prompt);
                }
            }
        }
        eprintln!("longest prompt: {longest} tokens; phoneme counts: {counts:?}");
        assert!(outside.is_empty(), "phonemes outside EN_US_PHONEMES: {outside:?}");
        let rare: Vec<_> = counts.iter().filter(|(_, &n)| n < MIN_OCCURRENCES).collect();
        assert!(rare.is_empty(), "fewer than {MIN_OCCURRENCES} occurrences: {rare:?}");
    }
}
