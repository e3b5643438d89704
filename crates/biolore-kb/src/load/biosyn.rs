//! BioSyn-style dictionaries: `ID[|ALT…]||name|synonym|…`, one concept per line.

use std::path::Path;

use super::{for_each_line, split_list, Issues, Loaded, Policy};
use crate::concept::{Concept, KnowledgeBase, Synonym};
use crate::error::Result;

/// Loads a BioSyn dictionary (e.g. MEDIC as distributed for NCBI-disease).
pub fn load(paths: &[&Path], policy: Policy) -> Result<Loaded> {
    let mut kb = KnowledgeBase::new("biosyn");
    let mut issues = Issues::new(policy);
    for path in paths {
        for_each_line(path, &mut issues, |n, line, issues| {
            if line.trim().is_empty() {
                return Ok(());
            }
            let Some((ids, names)) = line.split_once("||") else {
                return issues.report(path, n, "expected 'ID||name|synonym…'");
            };
            let mut ids = split_list(ids);
            let Some(id) = ids.next() else {
                return issues.report(path, n, "missing concept id");
            };
            let mut names = split_list(names);
            let Some(name) = names.next() else {
                return issues.report(path, n, "missing concept name");
            };
            kb.add(Concept {
                id: id.to_string(),
                name: name.to_string(),
                alt_ids: ids.map(String::from).collect(),
                synonyms: names.map(|t| Synonym::exact(t.to_string())).collect(),
                ..Concept::default()
            });
            Ok(())
        })?;
    }
    Ok(issues.finish(kb))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::KbError;

    #[test]
    fn reads_ids_alternatives_and_names() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dict.txt");
        std::fs::write(
            &p,
            "C565588||Epidermolysis Bullosa With Diaphragmatic Hernia\n\
             C567755|613097||Tooth Agenesis, Selective, 6|STHAG6\n\
             broken line without separator\n\
             ||no id\n",
        )
        .unwrap();
        let loaded = load(&[&p], Policy::Skip).unwrap();
        assert_eq!(loaded.kb.len(), 2);
        assert_eq!(loaded.skipped, 2);
        assert_eq!(loaded.issues[0].line, 3);
        let c = loaded.kb.get("OMIM:613097").unwrap();
        assert_eq!(c.id, "MESH:C567755");
        assert_eq!(c.names(), vec!["Tooth Agenesis, Selective, 6", "STHAG6"]);
        let e = load(&[&p], Policy::Fail).unwrap_err();
        assert!(matches!(e, KbError::Malformed { line: 3, .. }), "{e}");
        assert!(e.to_string().contains("dict.txt:3"));
    }
}
