//! UMLS Metathesaurus RRF files: MRCONSO (names), MRDEF (definitions), MRSTY (semantic types),
//! MRREL (relations). Streams each file line by line; filters by language, suppression and source.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{for_each_line, Issues, Loaded, Policy};
use crate::concept::{Concept, KnowledgeBase, Relation, Synonym};
use crate::error::{KbError, Result};
use crate::ids::normalize_id;

/// Which rows of a UMLS release to keep.
#[derive(Debug, Clone)]
pub struct UmlsOptions {
    /// Languages (MRCONSO `LAT`) to keep; default English only.
    pub languages: Vec<String>,
    /// Keep suppressed names (`SUPPRESS` other than `N`); default no.
    pub include_suppressed: bool,
    /// Source vocabularies (`SAB`) to keep; empty means all.
    pub sources: Vec<String>,
}

impl Default for UmlsOptions {
    fn default() -> Self {
        Self {
            languages: vec!["ENG".into()],
            include_suppressed: false,
            sources: Vec::new(),
        }
    }
}

/// The RRF files found among `paths` (files, or folders holding them).
fn find_files(paths: &[&Path]) -> HashMap<&'static str, PathBuf> {
    let mut found = HashMap::new();
    for p in paths {
        for name in ["MRCONSO", "MRDEF", "MRSTY", "MRREL"] {
            let file = format!("{name}.RRF");
            if p.is_dir() && p.join(&file).is_file() {
                found.insert(name, p.join(&file));
            } else if p
                .file_name()
                .is_some_and(|f| f.to_string_lossy().eq_ignore_ascii_case(&file))
            {
                found.insert(name, p.to_path_buf());
            }
        }
    }
    found
}

fn fields(line: &str) -> Vec<&str> {
    line.split('|').collect()
}

/// Loads UMLS concepts (ids `UMLS:C…`) from RRF files.
pub fn load(paths: &[&Path], policy: Policy, options: &UmlsOptions) -> Result<Loaded> {
    let files = find_files(paths);
    let Some(conso) = files.get("MRCONSO") else {
        return Err(KbError::Empty(
            "UMLS input: MRCONSO.RRF not found among the given paths".into(),
        ));
    };
    let mut issues = Issues::new(policy);
    let mut concepts: HashMap<String, (Concept, bool)> = HashMap::new();
    let keep_sab =
        |sab: &str| options.sources.is_empty() || options.sources.iter().any(|s| s == sab);
    // MRCONSO: CUI|LAT|TS|LUI|STT|SUI|ISPREF|AUI|SAUI|SCUI|SDUI|SAB|TTY|CODE|STR|SRL|SUPPRESS|CVF|
    for_each_line(conso, &mut issues, |n, line, issues| {
        let f = fields(line);
        if f.len() < 18 {
            return issues.report(
                conso,
                n,
                format!(
                    "MRCONSO row has {} fields, expected 18",
                    f.len().saturating_sub(1)
                ),
            );
        }
        if !options.languages.iter().any(|l| l == f[1]) || !keep_sab(f[11]) {
            return Ok(());
        }
        if !options.include_suppressed && f[16] != "N" {
            return Ok(());
        }
        let (cui, text) = (f[0], f[14]);
        if cui.is_empty() || text.is_empty() {
            return issues.report(conso, n, "MRCONSO row without CUI or STR");
        }
        let preferred = f[2] == "P" && f[4] == "PF" && f[6] == "Y";
        let (c, has_pref) = concepts.entry(cui.to_string()).or_insert_with(|| {
            (
                Concept {
                    id: format!("UMLS:{cui}"),
                    ..Concept::default()
                },
                false,
            )
        });
        if c.name.is_empty() || (preferred && !*has_pref) {
            if !c.name.is_empty() && c.name != text {
                let old = std::mem::take(&mut c.name);
                if !c.synonyms.iter().any(|s| s.text == old) {
                    c.synonyms.push(Synonym::exact(old));
                }
            }
            c.name = text.to_string();
            *has_pref |= preferred;
        } else if c.name != text && !c.synonyms.iter().any(|s| s.text == text) {
            c.synonyms.push(Synonym::exact(text.to_string()));
        }
        let xref = format!("{}:{}", f[11], f[13]);
        if !f[13].is_empty() && !c.xrefs.contains(&xref) {
            c.xrefs.push(xref);
        }
        Ok(())
    })?;
    // MRDEF: CUI|AUI|ATUI|SATUI|SAB|DEF|SUPPRESS|CVF|
    if let Some(path) = files.get("MRDEF") {
        for_each_line(path, &mut issues, |n, line, issues| {
            let f = fields(line);
            if f.len() < 8 {
                return issues.report(path, n, "MRDEF row has too few fields");
            }
            if !options.include_suppressed && f[6] != "N" {
                return Ok(());
            }
            if let Some((c, _)) = concepts.get_mut(f[0]) {
                if keep_sab(f[4]) && !f[5].is_empty() && !c.definitions.iter().any(|d| d == f[5]) {
                    c.definitions.push(f[5].to_string());
                }
            }
            Ok(())
        })?;
    }
    // MRSTY: CUI|TUI|STN|STY|ATUI|CVF|
    if let Some(path) = files.get("MRSTY") {
        for_each_line(path, &mut issues, |n, line, issues| {
            let f = fields(line);
            if f.len() < 6 {
                return issues.report(path, n, "MRSTY row has too few fields");
            }
            if let Some((c, _)) = concepts.get_mut(f[0]) {
                c.semantic_types.push(format!("{}:{}", f[1], f[3]));
            }
            Ok(())
        })?;
    }
    // MRREL: CUI1|AUI1|STYPE1|REL|CUI2|AUI2|STYPE2|RELA|RUI|SRUI|SAB|SL|RG|DIR|SUPPRESS|CVF|
    // REL is the relation of CUI2 to CUI1: PAR means CUI2 is a parent of CUI1.
    if let Some(path) = files.get("MRREL") {
        for_each_line(path, &mut issues, |n, line, issues| {
            let f = fields(line);
            if f.len() < 16 {
                return issues.report(path, n, "MRREL row has too few fields");
            }
            if (!options.include_suppressed && f[14] != "N") || !keep_sab(f[10]) || f[0] == f[4] {
                return Ok(());
            }
            let kind = match (f[3], f[7]) {
                ("PAR", _) => "is_a".to_string(),
                ("CHD" | "SIB" | "SY" | "RQ", _) => return Ok(()),
                (_, rela) if !rela.is_empty() => rela.to_string(),
                _ => return Ok(()),
            };
            let target = normalize_id(&format!("UMLS:{}", f[4]));
            if let Some((c, _)) = concepts.get_mut(f[0]) {
                let r = Relation { kind, target };
                if !c.relations.contains(&r) {
                    c.relations.push(r);
                }
            }
            Ok(())
        })?;
    }
    let mut cuis: Vec<String> = concepts.keys().cloned().collect();
    cuis.sort();
    let mut kb = KnowledgeBase::new("umls");
    for cui in cuis {
        if let Some((c, _)) = concepts.remove(&cui) {
            kb.add(c);
        }
    }
    Ok(issues.finish(kb))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_fixture(dir: &Path) {
        std::fs::write(
            dir.join("MRCONSO.RRF"),
            "C0019202|ENG|S|L1|PF|S1|Y|A1||||MSH|PEP|D006527|Hepatolenticular Degeneration|0|N||\n\
             C0019202|ENG|P|L2|PF|S2|Y|A2||||MTH|PN|NOCODE|Wilson Disease|0|N||\n\
             C0019202|ENG|S|L3|VO|S3|N|A3||||MSH|ET|D006527|Wilson's disease|0|N||\n\
             C0019202|FRE|S|L4|PF|S4|Y|A4||||MSHFRE|EN|D006527|Dégénérescence hépatolenticulaire|0|N||\n\
             C0019202|ENG|S|L5|PF|S5|N|A5||||MSH|EN|D006527|Degeneration, Hepatolenticular|0|O||\n\
             C0025517|ENG|P|L6|PF|S6|Y|A6||||MSH|MH|D008659|Metabolic Diseases|0|N||\n\
             C9999999|ENG|P\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("MRDEF.RRF"),
            "C0019202|A1|AT1||MSH|A rare autosomal recessive disease of copper metabolism.|N||\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("MRSTY.RRF"),
            "C0019202|T047|B2.2.1.2.1|Disease or Syndrome|AT2||\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("MRREL.RRF"),
            "C0019202|A1|AUI|PAR|C0025517|A6|AUI|inverse_isa|R1||MSH|MSH|||N||\n\
             C0025517|A6|AUI|CHD|C0019202|A1|AUI|isa|R2||MSH|MSH|||N||\n",
        )
        .unwrap();
    }

    #[test]
    fn reads_a_small_release_with_filters() {
        let dir = tempfile::tempdir().unwrap();
        write_fixture(dir.path());
        let loaded = load(&[dir.path()], Policy::Skip, &UmlsOptions::default()).unwrap();
        assert_eq!(loaded.kb.len(), 2);
        assert_eq!(loaded.skipped, 1);
        let c = loaded.kb.get("C0019202").unwrap();
        assert_eq!(c.name, "Wilson Disease");
        let names = c.names();
        assert!(
            names.contains(&"Hepatolenticular Degeneration") && names.contains(&"Wilson's disease")
        );
        assert!(
            !names.iter().any(|n| n.starts_with("Dégén")),
            "French is filtered out"
        );
        assert!(
            !names.contains(&"Degeneration, Hepatolenticular"),
            "suppressed names are filtered out"
        );
        assert_eq!(c.definitions.len(), 1);
        assert_eq!(c.semantic_types, vec!["T047:Disease or Syndrome"]);
        assert_eq!(c.parents().collect::<Vec<_>>(), vec!["UMLS:C0025517"]);
        assert!(c.xrefs.contains(&"MSH:D006527".to_string()));

        let french = UmlsOptions {
            languages: vec!["FRE".into()],
            ..UmlsOptions::default()
        };
        let loaded = load(&[&dir.path().join("MRCONSO.RRF")], Policy::Skip, &french).unwrap();
        assert_eq!(
            loaded.kb.get("C0019202").unwrap().name,
            "Dégénérescence hépatolenticulaire"
        );
        assert!(load(&[dir.path()], Policy::Fail, &UmlsOptions::default()).is_err());
    }
}
