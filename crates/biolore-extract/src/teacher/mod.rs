//! Teachers: language models asked to list the (drug, adverse effect) pairs a sentence states.
//! One interface ([`Teacher`]) over an OpenAI-compatible endpoint ([`openai`]) and a local GGUF
//! model ([`local`]); [`label`] asks a teacher about many sentences through the answer
//! [`cache`], reads the answers ([`parse`]) and aligns them to the text ([`crate::align`]).

pub mod cache;
pub mod local;
pub mod openai;
pub mod parse;
pub mod prompt;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use biolore_nn::heads::ChatMessage;
use serde::Serialize;

use crate::align::{align, Match};
use crate::error::{ExtractError, Result};
use crate::sentence::{span_of, AdeRelation, AdeSentence, DRUG, EFFECT};
use cache::{AnswerCache, CachedAnswer};
use prompt::PROMPT_VERSION;

/// A teacher's reply to one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The answer's text.
    pub text: String,
    /// Prompt tokens (as the teacher counts them).
    pub prompt_tokens: usize,
    /// Answer tokens.
    pub completion_tokens: usize,
}

/// Why a request produced no reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// This sentence failed (an error answer, a timeout after the retries): recorded, run goes on.
    Answer(String),
    /// Worth retrying (429, 5xx, timeouts); after the retries it counts as [`Failure::Answer`].
    Transient(String),
    /// The endpoint cannot be reached at all: the run stops (answers so far are cached).
    Unreachable(String),
    /// Every request would fail the same way (bad key, unknown model, bad URL): the run stops.
    Fatal(String),
}

/// A language model that answers chat requests.
pub trait Teacher: Send + Sync {
    /// Which teacher and model (part of the cache key).
    fn identity(&self) -> String;
    /// Requests that may run at once.
    fn concurrency(&self) -> usize;
    /// The answer to `prefix` (shared by every request: instructions, examples) then `messages`.
    fn chat(&self, prefix: &[ChatMessage], messages: &[ChatMessage]) -> Result<Reply, Failure>;
}

/// Settings of a labelling run.
#[derive(Debug, Clone)]
pub struct LabelOptions {
    /// Similarity a fuzzy alignment must reach.
    pub threshold: f64,
    /// Consecutive failed sentences after which the run stops (the teacher is not working).
    pub max_consecutive_failures: usize,
}

impl Default for LabelOptions {
    fn default() -> Self {
        Self {
            threshold: crate::align::FUZZY_THRESHOLD,
            max_consecutive_failures: 20,
        }
    }
}

/// What a labelling run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LabelSummary {
    /// The teacher and model.
    pub teacher: String,
    /// The prompt version.
    pub prompt_version: String,
    /// Sentences labelled (answered or from the cache).
    pub sentences: usize,
    /// Sentences the teacher answered in this run.
    pub asked: usize,
    /// Sentences whose answer came from the cache.
    pub cached: usize,
    /// Answers that needed the repair turn.
    pub repaired: usize,
    /// Sentences without a usable answer (no labels).
    pub failed: usize,
    /// Relations kept (both strings found in the text).
    pub relations: usize,
    /// Strings found exactly / ignoring case and spacing / fuzzily.
    pub aligned_exact: usize,
    /// See `aligned_exact`.
    pub aligned_normalized: usize,
    /// See `aligned_exact`.
    pub aligned_fuzzy: usize,
    /// Strings not found in the text (hallucinated or rewritten): their relations are dropped.
    pub unaligned: usize,
    /// Prompt tokens spent in this run.
    pub prompt_tokens: usize,
    /// Answer tokens spent in this run.
    pub completion_tokens: usize,
    /// Cost in this run, when prices were given.
    pub cost: Option<f64>,
    /// Seconds of the run.
    pub seconds: f64,
    /// Sentences the teacher answered per second (cache hits excluded).
    pub sentences_per_second: f64,
    /// Whether the run was stopped before the end.
    pub interrupted: bool,
}

/// Prices per million tokens, for the cost line of the summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    /// Per million prompt tokens.
    pub input: f64,
    /// Per million answer tokens.
    pub output: f64,
}

/// Asks the teacher about one sentence: the question, then once more with the repair turn.
fn ask(teacher: &dyn Teacher, text: &str) -> Result<(CachedAnswer, bool), Failure> {
    let prefix = prompt::few_shot();
    let first = teacher.chat(&prefix, &[ChatMessage::user(prompt::question(text))])?;
    let mut answer = CachedAnswer {
        teacher: teacher.identity(),
        prompt_version: PROMPT_VERSION.into(),
        text: text.to_string(),
        answer: first.text.clone(),
        pairs: Vec::new(),
        failed: None,
        prompt_tokens: first.prompt_tokens,
        completion_tokens: first.completion_tokens,
    };
    match parse::parse_answer(&first.text) {
        Ok(pairs) => {
            answer.pairs = pairs;
            Ok((answer, false))
        }
        Err(why) => {
            let second = teacher.chat(&prefix, &prompt::repair(text, &first.text))?;
            answer.prompt_tokens += second.prompt_tokens;
            answer.completion_tokens += second.completion_tokens;
            answer.answer = second.text.clone();
            match parse::parse_answer(&second.text) {
                Ok(pairs) => answer.pairs = pairs,
                Err(again) => {
                    answer.failed = Some(format!("{why}; after the repair turn: {again}"))
                }
            }
            Ok((answer, true))
        }
    }
}

/// A labelled sentence from an answer: every pair whose drug and effect are both found.
pub fn aligned(
    sentence: &AdeSentence,
    answer: &CachedAnswer,
    threshold: f64,
    summary: &mut LabelSummary,
) -> AdeSentence {
    let mut out = AdeSentence::new(&sentence.id, &sentence.text);
    out.failed = answer.failed.clone();
    let mut count = |m: Match| match m {
        Match::Exact => summary.aligned_exact += 1,
        Match::Normalized => summary.aligned_normalized += 1,
        Match::Fuzzy(_) => summary.aligned_fuzzy += 1,
    };
    for (drug, effect) in &answer.pairs {
        let d = align(&sentence.text, drug, threshold);
        let e = align(&sentence.text, effect, threshold);
        match (d, e) {
            (Some((ds, de, dm)), Some((es, ee, em))) => {
                count(dm);
                count(em);
                out.add(AdeRelation {
                    drug: span_of(&sentence.text, ds, de, DRUG),
                    effect: span_of(&sentence.text, es, ee, EFFECT),
                    score: None,
                    drug_concept: None,
                    effect_concept: None,
                });
            }
            (d, e) => {
                let missing = usize::from(d.is_none()) + usize::from(e.is_none());
                out.unaligned += missing;
                summary.unaligned += missing;
            }
        }
    }
    summary.relations += out.relations.len();
    out
}

/// Labels `sentences` with `teacher`, reading and filling `cache`; `on_labelled` sees each
/// labelled sentence in order (to write it out as the run goes). `stop` ends the run early
/// between sentences.
pub fn label(
    teacher: &dyn Teacher,
    cache: Option<&AnswerCache>,
    sentences: &[AdeSentence],
    options: &LabelOptions,
    prices: Option<Prices>,
    stop: Option<&AtomicBool>,
    on_labelled: &mut dyn FnMut(&AdeSentence) -> Result<()>,
) -> Result<LabelSummary> {
    let began = Instant::now();
    let identity = teacher.identity();
    let mut summary = LabelSummary {
        teacher: identity.clone(),
        prompt_version: PROMPT_VERSION.into(),
        ..Default::default()
    };
    let mut consecutive_failures = 0usize;
    let mut answered_secs = 0.0f64;
    for chunk in sentences.chunks(teacher.concurrency().max(1)) {
        if stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
            summary.interrupted = true;
            break;
        }
        let keys: Vec<String> = chunk
            .iter()
            .map(|s| AnswerCache::key(&identity, PROMPT_VERSION, &s.text))
            .collect();
        let hits: Vec<Option<CachedAnswer>> =
            keys.iter().map(|k| cache.and_then(|c| c.get(k))).collect();
        let t0 = Instant::now();
        let fresh: Vec<Option<Result<(CachedAnswer, bool), Failure>>> =
            std::thread::scope(|scope| {
                let handles: Vec<_> = chunk
                    .iter()
                    .zip(&hits)
                    .map(|(s, hit)| {
                        if hit.is_some() {
                            None
                        } else {
                            Some(scope.spawn(move || ask(teacher, &s.text)))
                        }
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.map(|h| {
                            h.join().unwrap_or_else(|_| {
                                Err(Failure::Answer("the teacher's thread panicked".into()))
                            })
                        })
                    })
                    .collect()
            });
        if fresh.iter().any(Option::is_some) {
            answered_secs += t0.elapsed().as_secs_f64();
        }
        for ((sentence, hit), result) in chunk.iter().zip(hits).zip(fresh) {
            let answer = match (hit, result) {
                (Some(a), _) => {
                    summary.cached += 1;
                    Some(a)
                }
                (None, Some(Ok((a, repaired)))) => {
                    summary.asked += 1;
                    summary.repaired += usize::from(repaired);
                    summary.prompt_tokens += a.prompt_tokens;
                    summary.completion_tokens += a.completion_tokens;
                    if let Some(c) = cache {
                        c.put(&a)?;
                    }
                    Some(a)
                }
                (None, Some(Err(Failure::Unreachable(m) | Failure::Fatal(m)))) => {
                    return Err(ExtractError::Teacher(format!(
                        "{m} (stopped after {} sentences; answers so far are cached)",
                        summary.sentences
                    )));
                }
                (None, Some(Err(Failure::Answer(m) | Failure::Transient(m)))) => {
                    summary.asked += 1;
                    tracing::warn!(id = %sentence.id, "teacher failed: {m}");
                    let mut failed = AdeSentence::new(&sentence.id, &sentence.text);
                    failed.failed = Some(m);
                    summary.failed += 1;
                    summary.sentences += 1;
                    consecutive_failures += 1;
                    if consecutive_failures >= options.max_consecutive_failures.max(1) {
                        return Err(ExtractError::Teacher(format!(
                            "{consecutive_failures} sentences in a row failed (last: {}); stopped",
                            failed.failed.unwrap_or_default()
                        )));
                    }
                    on_labelled(&failed)?;
                    continue;
                }
                (None, None) => None,
            };
            let Some(answer) = answer else { continue };
            let labelled = aligned(sentence, &answer, options.threshold, &mut summary);
            if labelled.failed.is_some() {
                summary.failed += 1;
                consecutive_failures += 1;
            } else {
                consecutive_failures = 0;
            }
            summary.sentences += 1;
            on_labelled(&labelled)?;
        }
    }
    summary.seconds = began.elapsed().as_secs_f64();
    summary.sentences_per_second = summary.asked as f64 / answered_secs.max(1e-9);
    summary.cost = prices.map(|p| {
        (summary.prompt_tokens as f64 * p.input + summary.completion_tokens as f64 * p.output) / 1e6
    });
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Answers from a script, in order.
    struct Scripted(Mutex<Vec<Result<&'static str, Failure>>>);

    impl Teacher for Scripted {
        fn identity(&self) -> String {
            "scripted".into()
        }
        fn concurrency(&self) -> usize {
            1
        }
        fn chat(&self, _: &[ChatMessage], _: &[ChatMessage]) -> Result<Reply, Failure> {
            let next = self.0.lock().unwrap().remove(0)?;
            Ok(Reply {
                text: next.to_string(),
                prompt_tokens: 10,
                completion_tokens: 5,
            })
        }
    }

    fn sentences() -> Vec<AdeSentence> {
        vec![
            AdeSentence::new("1", "Cisplatin caused severe ototoxicity."),
            AdeSentence::new("2", "Nothing happened."),
            AdeSentence::new("3", "Lithium toxicity was seen."),
        ]
    }

    #[test]
    fn answers_are_repaired_aligned_cached_and_counted() {
        let teacher = Scripted(Mutex::new(vec![
            Ok(
                r#"{"relations": [{"drug": "cisplatin", "effect": "ototoxicity"}, {"drug": "aspirin", "effect": "rash"}]}"#,
            ),
            Ok("none"),
            Ok(r#"{"relations": []}"#),
            Err(Failure::Answer("HTTP 400".into())),
        ]));
        let dir = tempfile::tempdir().unwrap();
        let cache = AnswerCache::open(dir.path()).unwrap();
        let mut out = Vec::new();
        let summary = label(
            &teacher,
            Some(&cache),
            &sentences(),
            &LabelOptions::default(),
            Some(Prices {
                input: 1.0,
                output: 2.0,
            }),
            None,
            &mut |s| {
                out.push(s.clone());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].relations.len(), 1);
        assert_eq!(out[0].relations[0].drug.text, "Cisplatin");
        assert_eq!(out[0].unaligned, 2);
        assert!(out[1].relations.is_empty() && out[1].failed.is_none());
        assert!(out[2].failed.is_some());
        assert_eq!(
            (
                summary.asked,
                summary.repaired,
                summary.failed,
                summary.unaligned
            ),
            (3, 1, 1, 2)
        );
        assert_eq!(summary.aligned_normalized, 1);
        assert_eq!(summary.aligned_exact, 1);
        // A rerun answers the two cached sentences from the cache and asks only the failed one.
        let again = Scripted(Mutex::new(vec![Ok(r#"{"relations": []}"#)]));
        let summary = label(
            &again,
            Some(&cache),
            &sentences(),
            &LabelOptions::default(),
            None,
            None,
            &mut |_| Ok(()),
        )
        .unwrap();
        assert_eq!((summary.cached, summary.asked), (2, 1));
    }

    #[test]
    fn an_unreachable_teacher_stops_the_run() {
        let teacher = Scripted(Mutex::new(vec![Err(Failure::Unreachable(
            "connection refused".into(),
        ))]));
        let e = label(
            &teacher,
            None,
            &sentences(),
            &LabelOptions::default(),
            None,
            None,
            &mut |_| Ok(()),
        )
        .unwrap_err();
        assert!(e.to_string().contains("connection refused"), "{e}");
    }
}
