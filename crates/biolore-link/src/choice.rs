//! Which linker answers: dense retrieval, the constrained generator, or the hybrid of both —
//! opened over one index for `link`, `eval link` and the server alike.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use biolore_nn::heads::LanguageModel;
use candle_core::Device;

use crate::error::{LinkError, Result};
use crate::generative::{GenerativeLinker, DEFAULT_BEAMS};
use crate::hybrid::{HybridLinker, DEFAULT_DEPTH};
use crate::linker::Linker;
use crate::mention_context::PromptSettings;
use crate::mention_ranker::MentionRanker;

/// The kinds of linker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkerKind {
    /// Nearest names by cosine similarity of sentence vectors.
    #[default]
    Dense,
    /// A decoder writes a KB name, constrained by the trie of the KB's names.
    Generative,
    /// The generator re-scores the dense linker's top concepts.
    Hybrid,
}

impl LinkerKind {
    /// Parses `dense`, `generative` or `hybrid`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "dense" => Some(Self::Dense),
            "generative" => Some(Self::Generative),
            "hybrid" => Some(Self::Hybrid),
            _ => None,
        }
    }
}

/// How the generator is opened.
#[derive(Debug, Clone)]
pub struct GeneratorOptions {
    /// A decoder folder (what `train link-generative` writes) or a GGUF file.
    pub path: PathBuf,
    /// Run a GGUF file's quantized weights instead of dequantizing them.
    pub quantized: bool,
    /// Beam size.
    pub beams: usize,
    /// Dense candidates the hybrid re-scores.
    pub depth: usize,
    /// The generator's share of the hybrid's score.
    pub weight: f32,
}

impl GeneratorOptions {
    /// Options with ANGEL's beam size, 10 dense candidates and equal shares.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            quantized: false,
            beams: DEFAULT_BEAMS,
            depth: DEFAULT_DEPTH,
            weight: 0.5,
        }
    }
}

/// A linker of `kind` over `dense`'s index (the generator is needed for all but dense).
pub fn open_ranker(
    kind: LinkerKind,
    dense: Linker,
    generator: Option<&GeneratorOptions>,
    device: &Device,
) -> Result<Arc<dyn MentionRanker>> {
    if kind == LinkerKind::Dense {
        return Ok(Arc::new(dense));
    }
    let options = generator.ok_or_else(|| {
        LinkError::Mismatch(
            "the generative and hybrid linkers need a generator (--generator DIR)".into(),
        )
    })?;
    let model = LanguageModel::load(&options.path, options.quantized, device)?;
    let start = Instant::now();
    let prompt = PromptSettings::load(&options.path)?;
    let generative =
        GenerativeLinker::new(Arc::new(model), dense.shared_index().clone(), options.beams)?
            .with_prompt(prompt);
    let trie = generative.names().trie();
    tracing::info!(
        names = generative.names().entries().len(),
        nodes = trie.node_count(),
        depth = trie.depth(),
        mb = trie.heap_bytes() as f64 / 1e6,
        seconds = start.elapsed().as_secs_f64(),
        context_chars = prompt.context_chars,
        "name trie built"
    );
    Ok(match kind {
        LinkerKind::Generative => Arc::new(generative),
        _ => Arc::new(HybridLinker::new(
            dense,
            Arc::new(generative),
            options.depth,
            options.weight,
        )),
    })
}
