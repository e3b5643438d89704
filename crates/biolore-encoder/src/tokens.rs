//! Text to token ids with the model's own `tokenizer.json`, truncated at `max_seq_length`.

use std::path::Path;

use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::{EncoderError, Result};

/// One token of a text and the characters it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Token id.
    pub id: u32,
    /// The token as the vocabulary writes it (`##ing`, `▁Wilson`, `[CLS]`).
    pub text: String,
    /// First character of the text it covers (counting Unicode scalar values, as
    /// `biolore_text` documents do).
    pub start: usize,
    /// One past its last character (`start == end` for special tokens).
    pub end: usize,
    /// Whether the tokenizer added it (`[CLS]`, `</s>`, …) rather than read it from the text.
    pub special: bool,
}

/// The model's tokenizer, set up as sentence-transformers uses it.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    max_len: usize,
    pad_id: u32,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("max_len", &self.max_len)
            .field("pad_id", &self.pad_id)
            .finish()
    }
}

impl TextTokenizer {
    /// Loads `tokenizer.json`, truncating to `max_len` tokens (special tokens included).
    pub fn from_file(path: &Path, max_len: usize, pad_id: u32) -> Result<Self> {
        if !path.is_file() {
            return Err(EncoderError::MissingFile {
                path: path.to_path_buf(),
                hint: "biolore needs the fast-tokenizer file tokenizer.json (save the tokenizer \
                       with transformers' AutoTokenizer.save_pretrained to create it)"
                    .into(),
            });
        }
        let mut inner = Tokenizer::from_file(path).map_err(|e| EncoderError::Tokenizer {
            context: path.display().to_string(),
            message: e.to_string(),
        })?;
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| EncoderError::Tokenizer {
                context: path.display().to_string(),
                message: e.to_string(),
            })?;
        inner.with_padding(None);
        let pad_id = inner
            .get_padding()
            .map(|p| p.pad_id)
            .or_else(|| ["[PAD]", "<pad>"].iter().find_map(|t| inner.token_to_id(t)))
            .unwrap_or(pad_id);
        Ok(Self {
            inner,
            max_len,
            pad_id,
        })
    }

    /// The largest number of tokens a text is cut to.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The id used for padding positions.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Token ids of one text, special tokens included.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.encode_checked(text)?.0)
    }

    /// Token ids of one text and whether it was cut at [`Self::max_len`].
    pub fn encode_checked(&self, text: &str) -> Result<(Vec<u32>, bool)> {
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| EncoderError::Tokenizer {
                context: "encoding a text".into(),
                message: e.to_string(),
            })?;
        Ok((enc.get_ids().to_vec(), !enc.get_overflowing().is_empty()))
    }

    /// The tokens of one text with their character spans, special tokens included (cut at
    /// [`Self::max_len`] as [`Self::encode`] is: the ids are the same).
    pub fn encode_with_offsets(&self, text: &str) -> Result<Vec<Token>> {
        let enc =
            self.inner
                .encode_char_offsets(text, true)
                .map_err(|e| EncoderError::Tokenizer {
                    context: "encoding a text".into(),
                    message: e.to_string(),
                })?;
        Ok(enc
            .get_ids()
            .iter()
            .zip(enc.get_tokens())
            .zip(enc.get_offsets())
            .zip(enc.get_special_tokens_mask())
            .map(|(((&id, token), &(start, end)), &special)| Token {
                id,
                text: token.clone(),
                start,
                end,
                special: special == 1,
            })
            .collect())
    }

    /// Token ids of many texts, in parallel, in input order.
    pub fn encode_batch<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<Vec<u32>>> {
        use rayon::prelude::*;
        texts.par_iter().map(|t| self.encode(t.as_ref())).collect()
    }
}
