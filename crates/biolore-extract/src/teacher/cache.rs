//! A content-addressed store of teacher answers on disk: one small JSON file per (teacher, model,
//! prompt version, text), written atomically, so an interrupted run resumes and a rerun is free.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{ExtractError, Result};

/// A teacher's final answer to one sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedAnswer {
    /// The teacher and model (`openai:gpt-4o-mini`, `local:Qwen2.5-…gguf`).
    pub teacher: String,
    /// The prompt version asked.
    pub prompt_version: String,
    /// The sentence.
    pub text: String,
    /// The answer's text as the teacher wrote it (after the repair turn when one was needed).
    pub answer: String,
    /// (drug, effect) strings read from the answer.
    pub pairs: Vec<(String, String)>,
    /// Why the answer could not be read, when it could not.
    #[serde(default)]
    pub failed: Option<String>,
    /// Prompt tokens the teacher reported (or counted).
    #[serde(default)]
    pub prompt_tokens: usize,
    /// Answer tokens.
    #[serde(default)]
    pub completion_tokens: usize,
}

/// The folder of cached answers.
#[derive(Debug, Clone)]
pub struct AnswerCache {
    dir: PathBuf,
}

impl AnswerCache {
    /// Opens (creating) a cache folder.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| ExtractError::io(dir, e))?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// The key of an answer: SHA-256 of teacher, prompt version and text.
    pub fn key(teacher: &str, prompt_version: &str, text: &str) -> String {
        let mut h = Sha256::new();
        for part in [teacher, prompt_version, text] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.json"))
    }

    /// The stored answer for `key`; a missing or unreadable entry (a torn write) is a miss.
    pub fn get(&self, key: &str) -> Option<CachedAnswer> {
        let text = std::fs::read_to_string(self.path(key)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Stores an answer under its key (temporary file, then rename: never a torn entry).
    pub fn put(&self, answer: &CachedAnswer) -> Result<()> {
        let key = Self::key(&answer.teacher, &answer.prompt_version, &answer.text);
        let path = self.path(&key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ExtractError::io(parent, e))?;
        }
        let tmp = path.with_extension(format!("{}.partial", std::process::id()));
        let json = serde_json::to_vec(answer)
            .map_err(|e| ExtractError::Invalid(format!("cannot serialise an answer: {e}")))?;
        std::fs::write(&tmp, json).map_err(|e| ExtractError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| ExtractError::io(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip_and_keys_differ_by_every_part() {
        let dir = tempfile::tempdir().unwrap();
        let cache = AnswerCache::open(dir.path()).unwrap();
        let answer = CachedAnswer {
            teacher: "local:x".into(),
            prompt_version: "v1".into(),
            text: "Aspirin caused asthma.".into(),
            answer: "{}".into(),
            pairs: vec![("Aspirin".into(), "asthma".into())],
            failed: None,
            prompt_tokens: 3,
            completion_tokens: 4,
        };
        cache.put(&answer).unwrap();
        let key = AnswerCache::key("local:x", "v1", "Aspirin caused asthma.");
        assert_eq!(cache.get(&key), Some(answer));
        assert_ne!(
            key,
            AnswerCache::key("local:y", "v1", "Aspirin caused asthma.")
        );
        assert_ne!(
            key,
            AnswerCache::key("local:x", "v2", "Aspirin caused asthma.")
        );
        assert!(cache
            .get(&AnswerCache::key("local:x", "v1", "other"))
            .is_none());
        // A torn entry is a miss, not an error.
        std::fs::write(cache.path(&key), "{\"teacher\": ").unwrap();
        assert!(cache.get(&key).is_none());
    }
}
