//! The compact on-disk KB: a versioned header and the concepts, bincode-encoded.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use crate::concept::KnowledgeBase;
use crate::error::{io_error, KbError, Result};

const MAGIC: &[u8; 8] = b"BIOLOKB1";

/// Writes `kb` to `path` atomically (a temporary file renamed into place).
pub fn save(kb: &KnowledgeBase, path: &Path) -> Result<()> {
    let tmp = path.with_extension("partial");
    {
        let file = std::fs::File::create(&tmp).map_err(io_error(&tmp))?;
        let mut w = BufWriter::new(file);
        w.write_all(MAGIC).map_err(io_error(&tmp))?;
        bincode::serialize_into(&mut w, kb).map_err(|e| KbError::InvalidStore {
            path: tmp.clone(),
            message: e.to_string(),
        })?;
        w.flush().map_err(io_error(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io_error(path))
}

/// Reads a KB written by [`save`].
pub fn open(path: &Path) -> Result<KnowledgeBase> {
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)
        .map_err(|_| KbError::InvalidStore {
            path: path.to_path_buf(),
            message: "too short to be a biolore KB".into(),
        })?;
    if &magic != MAGIC {
        return Err(KbError::InvalidStore {
            path: path.to_path_buf(),
            message: "not a biolore KB (bad magic number); create one with `biolore kb import`"
                .into(),
        });
    }
    let mut kb: KnowledgeBase =
        bincode::deserialize_from(r).map_err(|e| KbError::InvalidStore {
            path: path.to_path_buf(),
            message: format!("corrupt: {e}"),
        })?;
    kb.reindex();
    Ok(kb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::concept::Concept;

    #[test]
    fn round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.kb");
        let mut kb = KnowledgeBase::new("test");
        kb.add(Concept {
            id: "D006527".into(),
            name: "Wilson Disease".into(),
            alt_ids: vec!["OMIM:277900".into()],
            ..Concept::default()
        });
        save(&kb, &p).unwrap();
        let back = open(&p).unwrap();
        assert_eq!(back.concepts(), kb.concepts());
        assert_eq!(back.get("277900").unwrap().name, "Wilson Disease");
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        assert!(open(&p).unwrap_err().to_string().contains("corrupt"));
        std::fs::write(&p, b"something else entirely").unwrap();
        assert!(open(&p).unwrap_err().to_string().contains("bad magic"));
    }
}
