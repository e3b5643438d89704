//! Loaders: each streams its files line by line into a [`KnowledgeBase`].

pub mod biosyn;
pub mod ctd;
pub mod icd10cm;
pub mod jsonl;
pub mod obo;
pub mod umls;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::concept::KnowledgeBase;
use crate::error::{io_error, KbError, Result};

/// What to do with a malformed line or record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Report it (a warning), count it and go on.
    #[default]
    Skip,
    /// Stop with an error naming the file and line.
    Fail,
}

/// A malformed input line that was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number (0 when the format has none).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

/// The outcome of a load: the KB and the malformed lines it skipped.
#[derive(Debug)]
pub struct Loaded {
    /// The concepts.
    pub kb: KnowledgeBase,
    /// Skipped lines (all of them are counted; the first 1,000 are kept).
    pub issues: Vec<Issue>,
    /// Number of skipped lines.
    pub skipped: usize,
}

/// Collects malformed-line reports under a policy.
#[derive(Debug, Default)]
pub struct Issues {
    policy: Policy,
    kept: Vec<Issue>,
    count: usize,
}

impl Issues {
    /// A collector applying `policy`.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            ..Self::default()
        }
    }

    /// Reports a malformed line: an error under `Fail`, a warning and a count under `Skip`.
    pub fn report(&mut self, path: &Path, line: usize, message: impl Into<String>) -> Result<()> {
        let message = message.into();
        if self.policy == Policy::Fail {
            return Err(KbError::Malformed {
                path: path.to_path_buf(),
                line,
                message,
            });
        }
        tracing::warn!("{}:{line}: {message} (skipped)", path.display());
        self.count += 1;
        if self.kept.len() < 1000 {
            self.kept.push(Issue {
                path: path.to_path_buf(),
                line,
                message,
            });
        }
        Ok(())
    }

    /// Finishes a load.
    pub fn finish(self, kb: KnowledgeBase) -> Loaded {
        Loaded {
            kb,
            issues: self.kept,
            skipped: self.count,
        }
    }
}

/// Opens a text file, decompressing `.gz` transparently.
pub fn open_text(path: &Path) -> Result<Box<dyn BufRead>> {
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    if path.extension().is_some_and(|e| e == "gz") {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(file),
        )))
    } else {
        Ok(Box::new(BufReader::with_capacity(1 << 16, file)))
    }
}

/// Calls `f(line_number, line)` for each line of `path`; invalid UTF-8 goes to `issues`.
pub fn for_each_line(
    path: &Path,
    issues: &mut Issues,
    mut f: impl FnMut(usize, &str, &mut Issues) -> Result<()>,
) -> Result<()> {
    let mut reader = open_text(path)?;
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        buf.clear();
        let read = reader.read_until(b'\n', &mut buf).map_err(io_error(path))?;
        if read == 0 {
            return Ok(());
        }
        n += 1;
        while buf.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
            buf.pop();
        }
        match std::str::from_utf8(&buf) {
            Ok(line) => f(n, line, issues)?,
            Err(e) => issues.report(path, n, format!("invalid UTF-8 ({e})"))?,
        }
    }
}

/// Splits a `|`-separated list, trimming and dropping empty items.
pub fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split('|').map(str::trim).filter(|x| !x.is_empty())
}
