//! Building, interrupting, resuming and searching a real index (the committed disease dictionary
//! generated from NCBI-disease's training mentions, MiniLM).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use biolore_encoder::Encoder;
use biolore_index::{build, BuildOptions, HnswParams, Index, IndexError, Precision};
use biolore_kb::load::{biosyn, Policy};
use biolore_kb::KnowledgeBase;
use candle_core::Device;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn encoder() -> Encoder {
    let dir = root().join("models/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "run scripts/setup.sh"
    );
    Encoder::load(&dir, &Device::Cpu).unwrap()
}

fn small_dictionary(n: usize) -> KnowledgeBase {
    let full = biosyn::load(
        &[&root().join("fixtures/ncbi-disease/disease-dictionary.txt")],
        Policy::Fail,
    )
    .unwrap()
    .kb;
    let mut kb = KnowledgeBase::new("disease-subset");
    for c in full.concepts().iter().take(n) {
        kb.add(c.clone());
    }
    kb
}

/// Builds without interruption or progress reporting.
fn build_quiet(
    kb: &KnowledgeBase,
    enc: &Encoder,
    dir: &std::path::Path,
    options: &BuildOptions,
) -> Result<biolore_index::BuildReport, IndexError> {
    build(
        kb,
        enc,
        "minilm",
        dir,
        options,
        &AtomicBool::new(false),
        &mut |_, _| {},
    )
}

fn vectors(dir: &std::path::Path) -> Vec<f32> {
    std::fs::read(dir.join("vectors.f32"))
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn interrupted_builds_resume_to_the_same_index() {
    let kb = small_dictionary(150);
    let enc = encoder();
    let tmp = tempfile::tempdir().unwrap();
    let options = BuildOptions {
        chunk: 64,
        ..BuildOptions::default()
    };

    let fresh = tmp.path().join("fresh");
    let report = build_quiet(&kb, &enc, &fresh, &options).unwrap();
    assert!(report.names > 150);
    assert_eq!(report.resumed_from, 0);

    // Stop after the first chunk, as Ctrl-C does.
    let resumed = tmp.path().join("resumed");
    let stop = AtomicBool::new(false);
    let err = build(
        &kb,
        &enc,
        "minilm",
        &resumed,
        &options,
        &stop,
        &mut |done, _| {
            if done >= 64 {
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, IndexError::Interrupted { done: 64, .. }),
        "{err}"
    );
    assert!(
        Index::open(&resumed).is_err(),
        "an unfinished index is refused"
    );
    // A kill in the middle of a write leaves a partial row: it is dropped on resume.
    let mut partial = std::fs::read(resumed.join("vectors.f32")).unwrap();
    partial.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
    std::fs::write(resumed.join("vectors.f32"), partial).unwrap();
    let report = build_quiet(&kb, &enc, &resumed, &options).unwrap();
    assert_eq!(report.resumed_from, 64);
    let (a, b) = (vectors(&fresh), vectors(&resumed));
    assert_eq!(a.len(), b.len());
    let max_diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(max_diff < 1e-5, "{max_diff}");

    // A complete index is left alone; a different KB in the same folder is refused.
    let again = build_quiet(&kb, &enc, &resumed, &options).unwrap();
    assert_eq!(again.embedded, 0);
    let other = small_dictionary(20);
    assert!(build_quiet(&other, &enc, &resumed, &options).is_err());
}

#[test]
fn search_ranks_concepts_by_their_best_name() {
    let kb = small_dictionary(300);
    let enc = encoder();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("idx");
    build_quiet(&kb, &enc, &dir, &BuildOptions::default()).unwrap();
    let mut index = Index::open(&dir).unwrap();
    let probe = kb.concepts()[7].clone();
    let synonym = probe.names().last().unwrap().to_string();
    let q = enc.embed(&[synonym.as_str(), "zzzz unrelated"]).unwrap();
    let hits = index.search(&[q.row(0).to_vec(), q.row(1).to_vec()], 5);
    assert_eq!(hits[0].len(), 5);
    let top = hits[0][0];
    assert_eq!(index.kb().concepts()[top.concept as usize].id, probe.id);
    assert!(top.score > 0.999, "{}", top.score);
    assert!(hits[0].windows(2).all(|w| w[0].score >= w[1].score));
    // Each concept appears once, with its best name.
    let mut ids: Vec<u32> = hits[0].iter().map(|h| h.concept).collect();
    ids.dedup();
    assert_eq!(ids.len(), 5);

    // Dictionary augmentation: a new name for a concept becomes findable.
    let target = kb.concepts()[42].clone();
    let added = index
        .add_names(&[("zzzz unrelated".to_string(), 42)], &enc)
        .unwrap();
    assert_eq!(added, 1);
    let hits = index.search(&[q.row(1).to_vec()], 1);
    assert_eq!(
        index.kb().concepts()[hits[0][0].concept as usize].id,
        target.id
    );
}

#[test]
fn hnsw_graph_finds_what_exact_search_finds() {
    let kb = small_dictionary(300);
    let enc = encoder();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("idx");
    let options = BuildOptions {
        hnsw: Some(HnswParams::default()),
        ..BuildOptions::default()
    };
    build_quiet(&kb, &enc, &dir, &options).unwrap();
    let index = Index::open(&dir).unwrap();
    assert!(index.has_graph());
    // Stored names as queries: identical vectors must not trip the distance (1 - dot < 0 by rounding).
    let texts: Vec<&str> = index
        .names()
        .names
        .iter()
        .take(40)
        .map(|e| e.text.as_str())
        .collect();
    let q = enc.embed(&texts).unwrap();
    let queries: Vec<Vec<f32>> = q.rows().map(<[f32]>::to_vec).collect();
    let exact = index.nearest_names(&queries, 10);
    let approx = index.nearest_names_approx(&queries, 10).unwrap();
    let found: usize = exact
        .iter()
        .zip(&approx)
        .map(|(e, a)| {
            e.iter()
                .filter(|(n, _)| a.iter().any(|(m, _)| m == n))
                .count()
        })
        .sum();
    assert!(found as f64 / 400.0 >= 0.95, "recall@10 {found}/400");
    let hits = index.search_approx(&queries, 3);
    let exact_hits = index.search(&queries, 3);
    for (i, (a, e)) in hits.iter().zip(&exact_hits).enumerate() {
        assert_eq!(a[0].concept, e[0].concept, "query {i} ({})", texts[i]);
        assert!(a[0].score > 0.999);
    }
}

#[test]
fn int8_index_is_four_times_smaller_and_finds_what_f32_finds() {
    let kb = small_dictionary(300);
    let enc = encoder();
    let tmp = tempfile::tempdir().unwrap();
    let float_dir = tmp.path().join("f32");
    build_quiet(&kb, &enc, &float_dir, &BuildOptions::default()).unwrap();
    let int8 = BuildOptions {
        precision: Precision::Int8,
        hnsw: Some(HnswParams::default()),
        ..BuildOptions::default()
    };
    // Built directly as int8: embedded, graph built from the float rows, then quantized.
    let dir = tmp.path().join("int8");
    let report = build_quiet(&kb, &enc, &dir, &int8).unwrap();
    let quantized = report.quantized.expect("quantized");
    assert_eq!(quantized.rows, report.names);
    assert!(quantized.min_cosine > 0.999, "{}", quantized.min_cosine);
    assert!(!dir.join("vectors.f32").exists());
    let float_bytes = std::fs::metadata(float_dir.join("vectors.f32"))
        .unwrap()
        .len();
    let code_bytes = std::fs::metadata(dir.join("vectors.i8")).unwrap().len();
    assert_eq!(code_bytes * 4, float_bytes);

    let float = Index::open(&float_dir).unwrap();
    let index = Index::open(&dir).unwrap();
    assert_eq!(index.precision(), Precision::Int8);
    assert_eq!(float.precision(), Precision::F32);
    assert!(index.has_graph());
    let texts: Vec<&str> = float
        .names()
        .names
        .iter()
        .step_by(7)
        .take(40)
        .map(|e| e.text.as_str())
        .collect();
    let q = enc.embed(&texts).unwrap();
    let queries: Vec<Vec<f32>> = q.rows().map(<[f32]>::to_vec).collect();
    // Single queries (the dot loop) and blocks (dequantized rows through the GEMM).
    let one = index.search(&queries[..1], 5);
    let exact = float.search(&queries, 5);
    let got = index.search(&queries, 5);
    assert_eq!(one[0], got[0]);
    for (i, (g, e)) in got.iter().zip(&exact).enumerate() {
        assert_eq!(g[0].concept, e[0].concept, "query {i} ({})", texts[i]);
        assert!(
            (g[0].score - e[0].score).abs() < 2e-3,
            "{} vs {}",
            g[0].score,
            e[0].score
        );
    }
    let recall = biolore_index::recall(
        &float.nearest_names(&queries, 10),
        &index.nearest_names(&queries, 10),
    );
    assert!(recall >= 0.97, "recall@10 {recall}");

    // A second run confirms; asking for f32 on an int8 index is refused, naming the way out.
    let again = build_quiet(&kb, &enc, &dir, &int8).unwrap();
    assert_eq!((again.embedded, again.quantized), (0, None));
    let refused = build_quiet(&kb, &enc, &dir, &BuildOptions::default()).unwrap_err();
    assert!(
        refused.to_string().contains("--precision int8"),
        "{refused}"
    );

    // A finished f32 index converts in place without re-embedding.
    let converted = build_quiet(&kb, &enc, &float_dir, &int8).unwrap();
    assert_eq!(converted.embedded, 0);
    assert!(converted.quantized.is_some());
    assert_eq!(
        Index::open(&float_dir).unwrap().search(&queries, 5),
        index.search(&queries, 5)
    );
}
