//! The task as a chat: instructions, a few worked examples, then the sentence; and the repair
//! turn sent once when an answer is not the JSON asked for.

use biolore_nn::heads::ChatMessage;

/// Version of the prompt below; part of every cache key, so changing the prompt never reuses
/// answers to the old one.
pub const PROMPT_VERSION: &str = "ade-v1";

const INSTRUCTIONS: &str = "You extract adverse drug events from biomedical text. Given a sentence, list every pair of a drug and an adverse effect that the sentence says the drug caused. Copy the drug and the effect exactly as they are written in the sentence. Answer only with JSON of the form {\"relations\": [{\"drug\": \"...\", \"effect\": \"...\"}]}. If the sentence states no adverse effect of a drug, answer {\"relations\": []}.";

/// Worked examples (written for this prompt, not taken from any corpus).
const EXAMPLES: [(&str, &str); 4] = [
    (
        "Severe hepatotoxicity developed in a 54-year-old woman two weeks after starting amiodarone.",
        r#"{"relations": [{"drug": "amiodarone", "effect": "hepatotoxicity"}]}"#,
    ),
    (
        "We report two patients who developed seizures and confusion during treatment with high-dose cefepime.",
        r#"{"relations": [{"drug": "cefepime", "effect": "seizures"}, {"drug": "cefepime", "effect": "confusion"}]}"#,
    ),
    (
        "Metformin is widely used as first-line therapy for type 2 diabetes.",
        r#"{"relations": []}"#,
    ),
    (
        "A case of ibuprofen-induced acute renal failure is described.",
        r#"{"relations": [{"drug": "ibuprofen", "effect": "acute renal failure"}]}"#,
    ),
];

/// The shared beginning of every request: instructions and worked examples.
pub fn few_shot() -> Vec<ChatMessage> {
    let mut messages = vec![ChatMessage::system(INSTRUCTIONS)];
    for (sentence, answer) in EXAMPLES {
        messages.push(ChatMessage::user(question(sentence)));
        messages.push(ChatMessage::assistant(answer));
    }
    messages
}

/// The user turn that asks about `sentence`.
pub fn question(sentence: &str) -> String {
    format!("Sentence: {sentence}")
}

/// The turns that ask again after an unusable `answer` to `sentence`.
pub fn repair(sentence: &str, answer: &str) -> Vec<ChatMessage> {
    vec![
        ChatMessage::user(question(sentence)),
        ChatMessage::assistant(answer),
        ChatMessage::user(
            "That answer was not JSON of the form {\"relations\": [{\"drug\": \"...\", \"effect\": \"...\"}]}. Answer again with only that JSON.",
        ),
    ]
}
