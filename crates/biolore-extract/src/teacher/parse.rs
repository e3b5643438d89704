//! Reading a teacher's answer robustly: code fences, prose before or after, a list or an object,
//! several key spellings; what cannot be read is an error (the caller asks once more, then records
//! a failure).

use serde_json::Value;

/// (drug, effect) strings of an answer.
pub type StringPairs = Vec<(String, String)>;

const DRUG_KEYS: [&str; 4] = ["drug", "drug_name", "medication", "substance"];
const EFFECT_KEYS: [&str; 6] = [
    "effect",
    "adverse_effect",
    "adverse_event",
    "ade",
    "reaction",
    "side_effect",
];
const LIST_KEYS: [&str; 5] = ["relations", "pairs", "adverse_events", "ades", "results"];

/// The (drug, effect) pairs an answer gives; `Err` says why the answer is unusable.
pub fn parse_answer(answer: &str) -> Result<StringPairs, String> {
    let text = answer.trim();
    if text.is_empty() {
        return Err("the answer is empty".into());
    }
    let mut last_error = String::from("no JSON object or list in the answer");
    // Try each place a JSON value could start; the first that reads as pairs wins.
    for (i, _) in text.match_indices(['{', '[']).take(16) {
        let mut stream = serde_json::Deserializer::from_str(&text[i..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(value)) => match pairs_of(&value) {
                Ok(pairs) => return Ok(pairs),
                Err(e) => last_error = e,
            },
            Some(Err(e)) => last_error = format!("malformed JSON: {e}"),
            None => {}
        }
    }
    Err(last_error)
}

fn pairs_of(value: &Value) -> Result<StringPairs, String> {
    match value {
        Value::Array(items) => items.iter().try_fold(Vec::new(), |mut acc, item| {
            acc.extend(item_pairs(item)?);
            Ok(acc)
        }),
        Value::Object(map) => {
            if let Some(list) = LIST_KEYS.iter().find_map(|k| map.get(*k)) {
                return match list {
                    Value::Array(_) => pairs_of(list),
                    Value::Null => Ok(Vec::new()),
                    other => Err(format!("'relations' is not a list: {other}")),
                };
            }
            item_pairs(value)
        }
        other => Err(format!("expected a JSON object or list, found {other}")),
    }
}

fn field<'a>(map: &'a serde_json::Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| {
        map.iter()
            .find(|(name, _)| name.to_ascii_lowercase() == *k)
            .map(|(_, v)| v)
    })
}

fn strings(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(format!("expected a string, found {other}")),
            })
            .collect(),
        other => Err(format!("expected a string, found {other}")),
    }
}

fn item_pairs(item: &Value) -> Result<StringPairs, String> {
    match item {
        Value::Object(map) => {
            let drug = field(map, &DRUG_KEYS).ok_or("an item has no 'drug'")?;
            let effect = field(map, &EFFECT_KEYS).ok_or("an item has no 'effect'")?;
            let (drugs, effects) = (strings(drug)?, strings(effect)?);
            Ok(drugs
                .iter()
                .flat_map(|d| effects.iter().map(move |e| (d.clone(), e.clone())))
                .collect())
        }
        Value::Array(pair) if pair.len() == 2 => match (&pair[0], &pair[1]) {
            (Value::String(d), Value::String(e)) => Ok(vec![(d.clone(), e.clone())]),
            _ => Err("a pair is not two strings".into()),
        },
        other => Err(format!("expected a relation object, found {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(d: &str, e: &str) -> (String, String) {
        (d.to_string(), e.to_string())
    }

    #[test]
    fn reads_the_shapes_models_answer_in() {
        let want = vec![pair("cefepime", "seizures")];
        for answer in [
            r#"{"relations": [{"drug": "cefepime", "effect": "seizures"}]}"#,
            "```json\n{\"relations\": [{\"drug\": \"cefepime\", \"effect\": \"seizures\"}]}\n```",
            r#"Here you go: [{"Drug": "cefepime", "adverse_effect": "seizures"}] Hope this helps."#,
            r#"{"drug": "cefepime", "effect": ["seizures"]}"#,
            r#"[["cefepime", "seizures"]]"#,
        ] {
            assert_eq!(parse_answer(answer).unwrap(), want, "{answer}");
        }
        assert!(parse_answer(r#"{"relations": []}"#).unwrap().is_empty());
        assert!(parse_answer(r#"{"relations": null}"#).unwrap().is_empty());
    }

    #[test]
    fn unusable_answers_are_errors() {
        for answer in [
            "",
            "No adverse events.",
            r#"{"relations": [{"drug": "x"}]"#,
            "[1, 2]",
            r#"{"relations": "none"}"#,
        ] {
            assert!(parse_answer(answer).is_err(), "{answer}");
        }
    }
}
