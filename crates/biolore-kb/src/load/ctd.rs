//! CTD's disease vocabulary (MEDIC) TSV: `DiseaseName, DiseaseID, AltDiseaseIDs, Definition,
//! ParentIDs, TreeNumbers, ParentTreeNumbers, Synonyms, SlimMappings`; `#` lines are comments.

use std::path::Path;

use super::{for_each_line, split_list, Issues, Loaded, Policy};
use crate::concept::{Concept, KnowledgeBase, Relation, Synonym};
use crate::error::Result;
use crate::ids::normalize_id;

/// Loads CTD disease TSV files (plain or `.gz`).
pub fn load(paths: &[&Path], policy: Policy) -> Result<Loaded> {
    let mut kb = KnowledgeBase::new("ctd");
    let mut issues = Issues::new(policy);
    for path in paths {
        for_each_line(path, &mut issues, |n, line, issues| {
            if line.starts_with('#') || line.trim().is_empty() {
                return Ok(());
            }
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 8 {
                return issues.report(
                    path,
                    n,
                    format!(
                        "expected at least 8 tab-separated fields, found {}",
                        f.len()
                    ),
                );
            }
            let (name, id) = (f[0].trim(), f[1].trim());
            if name.is_empty() || id.is_empty() {
                return issues.report(path, n, "missing DiseaseName or DiseaseID");
            }
            let definition = f[3].trim();
            kb.add(Concept {
                id: id.to_string(),
                name: name.to_string(),
                alt_ids: split_list(f[2]).map(String::from).collect(),
                definitions: if definition.is_empty() {
                    vec![]
                } else {
                    vec![definition.to_string()]
                },
                relations: split_list(f[4])
                    .map(|p| Relation {
                        kind: "is_a".into(),
                        target: normalize_id(p),
                    })
                    .collect(),
                synonyms: split_list(f[7])
                    .map(|s| Synonym::exact(s.to_string()))
                    .collect(),
                semantic_types: f
                    .get(8)
                    .map(|s| split_list(s).map(String::from).collect())
                    .unwrap_or_default(),
                xrefs: split_list(f[5]).map(|t| format!("MESH_TREE:{t}")).collect(),
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

    #[test]
    fn reads_fields_and_skips_comments() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ctd.tsv");
        std::fs::write(
            &p,
            "# comment\n\
             Hepatolenticular Degeneration\tMESH:D006527\tOMIM:277900\tA rare disease of copper metabolism.\tMESH:D008107|MESH:D020739\tC06.552.413\tC06.552\tWilson Disease|Wilson's disease\tDigestive system disease\n\
             only\ttwo\n",
        )
        .unwrap();
        let loaded = load(&[&p], Policy::Skip).unwrap();
        assert_eq!(loaded.skipped, 1);
        let c = loaded.kb.get("OMIM:277900").unwrap();
        assert_eq!(c.id, "MESH:D006527");
        assert_eq!(c.definitions, vec!["A rare disease of copper metabolism."]);
        assert_eq!(
            c.parents().collect::<Vec<_>>(),
            vec!["MESH:D008107", "MESH:D020739"]
        );
        assert_eq!(c.names().len(), 3);
        assert_eq!(c.semantic_types, vec!["Digestive system disease"]);
    }
}
