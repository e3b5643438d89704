//! Property tests: no loader panics, whatever its input.
//!
//! Every loader of `biolore_kb::load` (OBO, CTD plain and gzipped, BioSyn, UMLS RRF, ICD-10-CM
//! XML, JSONL) reads (a) arbitrary bytes and token soups of its format and (b) real inputs
//! mutated by byte flips, truncations, inserted and deleted bytes and duplicated lines: the
//! committed fixtures (`fixtures/doid/doid-excerpt.obo`, `fixtures/ncbi-disease/
//! disease-dictionary.txt`), a CTD-format TSV and JSONL made from them, and hand-written UMLS rows
//! and ICD-10-CM XML. Under `Policy::Fail` and `Policy::Skip` a load must return `Ok` or an error
//! naming the file (`path:line` for the line-oriented formats), and the two policies must agree.
//!
//! 64 cases per property; `PROPTEST_CASES=N` runs more.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use biolore_kb::load::umls::UmlsOptions;
use biolore_kb::load::{biosyn, ctd, icd10cm, jsonl, obo, umls, Loaded, Policy};
use biolore_kb::{KbError, KnowledgeBase};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::TestCaseError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Obo,
    Ctd,
    Biosyn,
    Umls,
    Icd10cm,
    Jsonl,
}

impl Format {
    /// Whether errors and issues carry a 1-based line number.
    fn line_oriented(self) -> bool {
        self != Format::Icd10cm
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_fixture(p: &str) -> Vec<u8> {
    let path = root().join("fixtures").join(p);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

static DOID: LazyLock<Vec<u8>> = LazyLock::new(|| read_fixture("doid/doid-excerpt.obo"));

static DICTIONARY: LazyLock<Vec<u8>> =
    LazyLock::new(|| read_fixture("ncbi-disease/disease-dictionary.txt"));

fn kb_of(format: Format, name: &str, bytes: &[u8]) -> KnowledgeBase {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let loaded = load(format, &[&path], Policy::Fail, false).unwrap();
    loaded.kb
}

/// A CTD-format TSV made from the first 80 concepts of the NCBI-disease dictionary.
static CTD_ROWS: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let kb = kb_of(Format::Biosyn, "dict.txt", &DICTIONARY);
    let mut out = String::from("# Fields:\n# DiseaseName\tDiseaseID\t...\n#\n");
    for (i, c) in kb.concepts().iter().take(80).enumerate() {
        let synonyms: Vec<&str> = c.synonyms.iter().map(|s| s.text.as_str()).collect();
        out.push_str(&format!(
            "{}\t{}\tDO:DOID:{}|OMIM:{}\tDefinition {i}.\tMESH:D004194|{}\tC99.{i}\tC99\t{}\tslim\n",
            c.name,
            c.id,
            90_000 + i,
            500_000 + i,
            kb.concepts()[i.saturating_sub(1)].id,
            synonyms.join("|"),
        ));
    }
    out.into_bytes()
});

/// JSONL concepts: 40 from the dictionary, 40 from the DOID excerpt, and hand-written lines.
static JSONL_ROWS: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let dict = kb_of(Format::Biosyn, "dict.txt", &DICTIONARY);
    let doid = kb_of(Format::Obo, "doid.obo", &DOID);
    let mut out = String::new();
    for c in dict
        .concepts()
        .iter()
        .take(40)
        .chain(doid.concepts().iter().take(40))
    {
        out.push_str(&serde_json::to_string(c).unwrap());
        out.push('\n');
    }
    out.push_str(
        "{\"id\":\"HP:0001250\",\"name\":\"Seizure\",\"synonyms\":[\"Epileptic seizure\",{\"text\":\"Fits\",\"scope\":\"related\"}]}\n\
         \n\
         {\"id\":\"HP:0012638\",\"name\":\"Abnormal nervous system physiology\",\"relations\":[{\"kind\":\"is_a\",\"target\":\"HP:0000707\"}],\"obsolete\":false}\n",
    );
    out.into_bytes()
});

const MRCONSO: &str = "\
C0019202|ENG|S|L1|PF|S1|Y|A1||||MSH|PEP|D006527|Hepatolenticular Degeneration|0|N||
C0019202|ENG|P|L2|PF|S2|Y|A2||||MTH|PN|NOCODE|Wilson Disease|0|N||
C0019202|ENG|S|L3|VO|S3|N|A3||||MSH|ET|D006527|Wilson's disease|0|N||
C0019202|FRE|S|L4|PF|S4|Y|A4||||MSHFRE|EN|D006527|Dégénérescence hépatolenticulaire|0|N||
C0019202|ENG|S|L5|PF|S5|N|A5||||MSH|EN|D006527|Degeneration, Hepatolenticular|0|O||
C0025517|ENG|P|L6|PF|S6|Y|A6||||MSH|MH|D008659|Metabolic Diseases|0|N||
C0036572|ENG|P|L7|PF|S7|Y|A7||||HPO|PT|HP:0001250|Seizure|0|N||
C0036572|ENG|S|L8|PF|S8|Y|A8||||MSH|EN|D012640|Seizures|0|N||
";
const MRDEF: &str = "\
C0019202|A1|AT1||MSH|A rare autosomal recessive disease of copper metabolism.|N||
C0036572|A7|AT3||HPO|A seizure is an intermittent abnormality of nervous system physiology.|N||
C0036572|A8|AT4||MSH|Clinical or subclinical disturbances of cortical function.|Y||
";
const MRSTY: &str = "\
C0019202|T047|B2.2.1.2.1|Disease or Syndrome|AT2||
C0036572|T184|A2.2.2|Sign or Symptom|AT5||
";
const MRREL: &str = "\
C0019202|A1|AUI|PAR|C0025517|A6|AUI|inverse_isa|R1||MSH|MSH|||N||
C0025517|A6|AUI|CHD|C0019202|A1|AUI|isa|R2||MSH|MSH|||N||
C0036572|A7|AUI|RO|C0019202|A1|AUI|may_be_finding_of|R3||MTH|MTH|||N||
";
const UMLS_NAMES: [&str; 4] = ["MRCONSO.RRF", "MRDEF.RRF", "MRSTY.RRF", "MRREL.RRF"];

const ICD_XML: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<!-- A hand-written excerpt in the layout of the ICD-10-CM tabular list. -->
<ICD10CM.tabular>
  <version>2026</version>
  <introduction><introSection type="title"><title>ICD-10-CM TABULAR LIST</title></introSection></introduction>
  <chapter>
    <name>1</name>
    <desc>Certain infectious and parasitic diseases (A00-B99)</desc>
    <sectionIndex><sectionRef first="A00" last="A09" id="A00-A09">Intestinal infectious diseases</sectionRef></sectionIndex>
    <section id="A00-A09">
      <desc>Intestinal infectious diseases (A00-A09)</desc>
      <diag>
        <name>A01</name>
        <desc>Typhoid and paratyphoid fevers</desc>
        <diag>
          <name>A01.02</name>
          <desc>Typhoid fever with heart involvement</desc>
          <inclusionTerm>
            <note>Typhoid endocarditis</note>
            <note>Typhoid myocarditis</note>
          </inclusionTerm>
          <excludes1><note>not this one</note></excludes1>
        </diag>
        <diag>
          <name>A01.4</name>
          <desc>Paratyphoid fever, unspecified &amp; NOS &#233; &#x2013;</desc>
          <sevenChrDef><extension char="A">initial encounter</extension></sevenChrDef>
        </diag>
        <diag/>
      </diag>
    </section>
  </chapter>
  <chapter>
    <name>4</name>
    <desc>Endocrine, nutritional and metabolic diseases (E00-E89)</desc>
    <section id="E08-E13">
      <desc>Diabetes mellitus (E08-E13)</desc>
      <diag>
        <name>E11</name>
        <desc>Type 2 diabetes mellitus</desc>
        <diag>
          <name>E11.9</name>
          <desc><![CDATA[Type 2 diabetes mellitus without complications]]></desc>
        </diag>
      </diag>
    </section>
  </chapter>
</ICD10CM.tabular>
"#;

/// Runs a loader on `paths`.
fn load(
    format: Format,
    paths: &[&Path],
    policy: Policy,
    permissive: bool,
) -> biolore_kb::Result<Loaded> {
    match format {
        Format::Obo => obo::load(paths, policy),
        Format::Ctd => ctd::load(paths, policy),
        Format::Biosyn => biosyn::load(paths, policy),
        Format::Icd10cm => icd10cm::load(paths, policy),
        Format::Jsonl => jsonl::load(paths, policy),
        Format::Umls => {
            let options = if permissive {
                UmlsOptions {
                    languages: vec!["ENG".into(), "FRE".into()],
                    include_suppressed: true,
                    sources: Vec::new(),
                }
            } else {
                UmlsOptions::default()
            };
            umls::load(paths, policy, &options)
        }
    }
}

/// An error must be typed and name one of the input files (with its line where lines exist).
fn check_error(
    format: Format,
    policy: Policy,
    error: &KbError,
    files: &[PathBuf],
) -> Result<(), TestCaseError> {
    let shown = error.to_string();
    match error {
        KbError::Malformed { path, line, .. } => {
            prop_assert!(files.contains(path), "{shown}");
            let at = format!("{}:{line}:", path.display());
            prop_assert!(shown.starts_with(&at), "{shown} does not start with {at}");
            if format.line_oriented() {
                prop_assert!(*line >= 1, "{shown}: no line number");
                prop_assert_eq!(
                    policy,
                    Policy::Fail,
                    "a malformed line is an error only under Fail: {}",
                    shown
                );
            }
        }
        KbError::Io { path, .. } => {
            prop_assert!(files.contains(path), "{shown}");
            prop_assert!(shown.contains(&path.display().to_string()), "{shown}");
        }
        other => prop_assert!(false, "unexpected error {other:?}"),
    }
    Ok(())
}

/// Writes `files` to a folder, loads them under both policies and checks the outcomes.
fn check(format: Format, files: &[(&str, Vec<u8>)], permissive: bool) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (name, bytes) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        paths.push(path);
    }
    let inputs: Vec<&Path> = if format == Format::Umls {
        vec![dir.path()]
    } else {
        paths.iter().map(PathBuf::as_path).collect()
    };
    let fail = load(format, &inputs, Policy::Fail, permissive);
    let skip = load(format, &inputs, Policy::Skip, permissive);
    for (policy, outcome) in [(Policy::Fail, &fail), (Policy::Skip, &skip)] {
        match outcome {
            Err(e) => check_error(format, policy, e, &paths)?,
            Ok(loaded) => {
                prop_assert!(loaded.skipped >= loaded.issues.len());
                for issue in &loaded.issues {
                    prop_assert!(paths.contains(&issue.path), "{issue}");
                    prop_assert!(!format.line_oriented() || issue.line >= 1, "{issue}");
                }
                for c in loaded.kb.concepts() {
                    prop_assert!(!c.id.is_empty());
                }
            }
        }
    }
    match (&fail, &skip) {
        (Ok(f), Ok(s)) => {
            prop_assert_eq!(f.skipped, 0);
            prop_assert_eq!(s.skipped, 0, "Fail accepted what Skip skipped");
            prop_assert_eq!(f.kb.concepts(), s.kb.concepts());
        }
        (Ok(_), Err(e)) => prop_assert!(false, "Fail accepted, Skip failed: {e}"),
        (Err(e), Ok(s)) => prop_assert!(s.skipped > 0, "Skip accepted cleanly, Fail failed: {e}"),
        (Err(_), Err(_)) => {}
    }
    Ok(())
}

// ---- input strategies ----

/// Bytes biased towards the separators and escapes of the formats, and broken UTF-8.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => any::<u8>(),
        3 => select(b"\n\n\r\t|||:\"\\[]{}<>/&;#! -_.,019ACDEIMNOPTYabcdefmnorstx".to_vec()),
        1 => select(vec![0x00u8, 0x80, 0xA9, 0xC3, 0xE2, 0xF0, 0xFF]),
    ]
}

fn arbitrary_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![vec(any::<u8>(), 0..1024), vec(interesting_byte(), 0..1024),]
}

/// Concatenations of format tokens and stray bytes.
fn soup(tokens: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    vec(
        prop_oneof![
            3 => select(tokens).prop_map(|t| t.as_bytes().to_vec()),
            1 => vec(interesting_byte(), 1..4),
        ],
        0..80,
    )
    .prop_map(|parts| parts.concat())
}

fn arbitrary_or(tokens: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![arbitrary_bytes(), soup(tokens)]
}

const OBO_TOKENS: &[&str] = &[
    "format-version: 1.2\n",
    "[Term]\n",
    "[Typedef]\n",
    "[Term",
    "\n",
    "id: DOID:1\n",
    "id: ",
    "name: disease\n",
    "name:",
    "alt_id: DOID:2\n",
    "def: \"",
    "\\",
    "\\\"",
    "\"",
    " [url:x]\n",
    "synonym: ",
    "\"ALS\" EXACT []\n",
    " BROAD ",
    " RELATED",
    "is_a: DOID:4 ! disease\n",
    "is_a: ",
    "relationship: part_of DOID:3\n",
    "relationship: ",
    "xref: MESH:D1 {a=\"b\"}\n",
    "is_obsolete: true\n",
    "is_obsolete: ",
    "!",
    ":",
    "{",
    " !",
    "é",
    "DOID:0001816",
];
const CTD_TOKENS: &[&str] = &[
    "# comment\n",
    "\t",
    "\t\t\t\t\t\t\t",
    "\n",
    "|",
    "Wilson Disease",
    "MESH:D006527",
    "DO:DOID:893",
    "OMIM:277900",
    "C06.552",
    "A definition.",
    "MESH:D008107|MESH:",
    "||",
    " ",
    "Disease slim",
];
const BIOSYN_TOKENS: &[&str] = &[
    "D006527",
    "||",
    "|",
    "\n",
    "wilson disease",
    "C567755|613097",
    "OMIM:",
    "MESH:",
    " ",
    "",
];
const UMLS_TOKENS: &[&str] = &[
    "C0019202",
    "|",
    "|||",
    "ENG",
    "FRE",
    "P",
    "PF",
    "Y",
    "N",
    "O",
    "MSH",
    "PAR",
    "CHD",
    "RO",
    "isa",
    "Wilson Disease",
    "D006527",
    "T047",
    "\n",
    "C0025517|ENG|P|L6|PF|S6|Y|A6||||MSH|MH|D008659|Metabolic Diseases|0|N||\n",
];
const XML_TOKENS: &[&str] = &[
    "<?xml version=\"1.0\"?>",
    "<ICD10CM.tabular>",
    "</ICD10CM.tabular>",
    "<chapter>",
    "</chapter>",
    "<section id=\"A00-A09\">",
    "<section id=\"",
    "</section>",
    "<diag>",
    "</diag>",
    "<diag/>",
    "<name>",
    "</name>",
    "<desc>",
    "</desc>",
    "<inclusionTerm>",
    "</inclusionTerm>",
    "<note>",
    "</note>",
    "A01.0",
    "1",
    "Typhoid",
    "&amp;",
    "&lt;",
    "&#233;",
    "&#x110000;",
    "&#0;",
    "&bogus;",
    "&",
    "<![CDATA[x<y]]>",
    "<!-- c -->",
    "<",
    ">",
    "</",
    "/>",
    "\"",
    "=",
    " ",
    "\n",
];
const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"id\"",
    "\"name\"",
    "\"synonyms\"",
    "\"scope\"",
    "\"relations\"",
    "\"kind\"",
    "\"target\"",
    "\"obsolete\"",
    "\"HP:1\"",
    "\"x\"",
    "\"text\"",
    "\"related\"",
    "true",
    "null",
    "1e999",
    "-0",
    "\"\\u00e9\"",
    "\"\\ud800\"",
    "\n",
    " ",
];

/// One edit of an input.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    Truncate(Index),
    DuplicateLine(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (any::<Index>(), interesting_byte()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        (any::<Index>(), vec(interesting_byte(), 1..16)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<Index>().prop_map(Mutation::Truncate),
        any::<Index>().prop_map(Mutation::DuplicateLine),
    ]
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    vec(mutation(), 1..8)
}

fn mutate(input: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut b = input.to_vec();
    for m in mutations {
        let len = b.len();
        match m {
            Mutation::FlipBit(i, bit) if len > 0 => b[i.index(len)] ^= 1 << bit,
            Mutation::SetByte(i, byte) if len > 0 => b[i.index(len)] = *byte,
            Mutation::Insert(i, bytes) => {
                let at = i.index(len + 1);
                b.splice(at..at, bytes.iter().copied());
            }
            Mutation::Delete(i, n) if len > 0 => {
                let at = i.index(len);
                b.drain(at..(at + n).min(len));
            }
            Mutation::Truncate(i) => b.truncate(i.index(len + 1)),
            Mutation::DuplicateLine(i) if len > 0 => {
                let at = i.index(len);
                let start = b[..at]
                    .iter()
                    .rposition(|&c| c == b'\n')
                    .map_or(0, |p| p + 1);
                let end = b[at..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(len, |p| at + p + 1);
                let line = b[start..end].to_vec();
                b.splice(end..end, line);
            }
            _ => {}
        }
    }
    b
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---- the inputs are valid before mutation ----

#[test]
fn the_unmutated_inputs_load_cleanly() {
    let ok = |format, files: &[(&str, Vec<u8>)]| {
        check(format, files, false).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let paths: Vec<PathBuf> = files.iter().map(|(n, _)| dir.path().join(n)).collect();
        let inputs: Vec<&Path> = if format == Format::Umls {
            vec![dir.path()]
        } else {
            paths.iter().map(PathBuf::as_path).collect()
        };
        let loaded = load(format, &inputs, Policy::Fail, false).unwrap();
        assert_eq!(loaded.skipped, 0);
        loaded.kb.len()
    };
    assert_eq!(ok(Format::Obo, &[("doid.obo", DOID.clone())]), 150);
    assert_eq!(ok(Format::Biosyn, &[("dict.txt", DICTIONARY.clone())]), 612);
    assert_eq!(ok(Format::Ctd, &[("ctd.tsv", CTD_ROWS.clone())]), 80);
    assert_eq!(ok(Format::Ctd, &[("ctd.tsv.gz", gzip(&CTD_ROWS))]), 80);
    assert_eq!(ok(Format::Jsonl, &[("c.jsonl", JSONL_ROWS.clone())]), 82);
    assert_eq!(
        ok(Format::Icd10cm, &[("icd.xml", ICD_XML.as_bytes().to_vec())]),
        9
    );
    let umls: Vec<(&str, Vec<u8>)> = UMLS_NAMES
        .iter()
        .zip([MRCONSO, MRDEF, MRSTY, MRREL])
        .map(|(n, t)| (*n, t.as_bytes().to_vec()))
        .collect();
    assert_eq!(ok(Format::Umls, &umls), 3);
}

// ---- (a) arbitrary bytes, (b) mutated real inputs ----

proptest! {
    #![proptest_config(config())]

    #[test]
    fn obo_arbitrary_bytes(bytes in arbitrary_or(OBO_TOKENS)) {
        check(Format::Obo, &[("t.obo", bytes)], false)?;
    }

    #[test]
    fn obo_mutated_doid_excerpt(m in mutations()) {
        check(Format::Obo, &[("doid.obo", mutate(&DOID, &m))], false)?;
    }

    #[test]
    fn ctd_arbitrary_bytes(bytes in arbitrary_or(CTD_TOKENS)) {
        check(Format::Ctd, &[("ctd.tsv", bytes)], false)?;
    }

    #[test]
    fn ctd_gz_arbitrary_bytes(bytes in arbitrary_or(CTD_TOKENS), compress in any::<bool>()) {
        let bytes = if compress { gzip(&bytes) } else { bytes };
        check(Format::Ctd, &[("ctd.tsv.gz", bytes)], false)?;
    }

    #[test]
    fn ctd_mutated_rows(m in mutations(), compress in any::<bool>()) {
        let bytes = mutate(&CTD_ROWS, &m);
        if compress {
            check(Format::Ctd, &[("ctd.tsv.gz", gzip(&bytes))], false)?;
        } else {
            check(Format::Ctd, &[("ctd.tsv", bytes)], false)?;
        }
    }

    #[test]
    fn ctd_gz_mutated_compressed_bytes(m in mutations()) {
        check(Format::Ctd, &[("ctd.tsv.gz", mutate(&gzip(&CTD_ROWS), &m))], false)?;
    }

    #[test]
    fn biosyn_arbitrary_bytes(bytes in arbitrary_or(BIOSYN_TOKENS)) {
        check(Format::Biosyn, &[("dict.txt", bytes)], false)?;
    }

    #[test]
    fn biosyn_mutated_dictionary(m in mutations()) {
        check(Format::Biosyn, &[("dict.txt", mutate(&DICTIONARY, &m))], false)?;
    }

    #[test]
    fn umls_arbitrary_bytes(
        files in vec(arbitrary_or(UMLS_TOKENS), 4),
        permissive in any::<bool>(),
    ) {
        let files: Vec<(&str, Vec<u8>)> = UMLS_NAMES.iter().copied().zip(files).collect();
        check(Format::Umls, &files, permissive)?;
    }

    #[test]
    fn umls_mutated_rows(m in vec(vec(mutation(), 0..4), 4), permissive in any::<bool>()) {
        let files: Vec<(&str, Vec<u8>)> = UMLS_NAMES
            .iter()
            .zip([MRCONSO, MRDEF, MRSTY, MRREL])
            .zip(&m)
            .map(|((n, t), m)| (*n, mutate(t.as_bytes(), m)))
            .collect();
        check(Format::Umls, &files, permissive)?;
    }

    #[test]
    fn icd10cm_arbitrary_bytes(bytes in arbitrary_or(XML_TOKENS)) {
        check(Format::Icd10cm, &[("icd.xml", bytes)], false)?;
    }

    #[test]
    fn icd10cm_mutated_xml(m in mutations()) {
        check(Format::Icd10cm, &[("icd.xml", mutate(ICD_XML.as_bytes(), &m))], false)?;
    }

    #[test]
    fn jsonl_arbitrary_bytes(bytes in arbitrary_or(JSON_TOKENS)) {
        check(Format::Jsonl, &[("c.jsonl", bytes)], false)?;
    }

    #[test]
    fn jsonl_mutated_concepts(m in mutations()) {
        check(Format::Jsonl, &[("c.jsonl", mutate(&JSONL_ROWS, &m))], false)?;
    }
}
