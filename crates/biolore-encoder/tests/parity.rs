//! Parity with sentence-transformers: token ids and embeddings of the reference fixtures.

mod common;

use biolore_encoder::{cosine, BatchLimits, Encoder};
use candle_core::Device;
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    models: std::collections::HashMap<String, ModelReference>,
}

#[derive(Deserialize)]
struct ModelReference {
    max_seq_length: usize,
    dim: usize,
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    text: String,
    input_ids: Vec<u32>,
    embedding: Vec<f32>,
}

fn read_json<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = common::fixtures().join("reference").join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("reference fixture is valid JSON")
}

fn reference(model: &str) -> ModelReference {
    let mut all: Reference = read_json("reference_embeddings.json");
    all.models.remove(model).expect("model in fixture")
}

fn check_model(name: &str) {
    check_folder(name, &common::model_dir(name), reference(name));
}

/// Checks the model as training loads it (float weights on the BLAS) and as inference loads it
/// (weights packed for biolore's own GEMM, where the CPU has AVX2).
fn check_folder(name: &str, folder: &std::path::Path, reference: ModelReference) {
    let plain = Encoder::load(folder, &Device::Cpu).expect("model loads");
    check_encoder(&format!("{name} (float weights)"), &plain, &reference);
    let packed =
        Encoder::load_with_precision(folder, &Device::Cpu, biolore_encoder::Precision::F32)
            .expect("model loads for inference");
    if biolore_nn::kernels::packed_gemm::enabled() {
        assert!(
            packed.gemm_name().starts_with("packed f32"),
            "{}",
            packed.gemm_name()
        );
    }
    check_encoder(&format!("{name} (packed)"), &packed, &reference);
}

fn check_encoder(name: &str, encoder: &Encoder, reference: &ModelReference) {
    assert_eq!(encoder.spec().max_seq_length, reference.max_seq_length);
    assert_eq!(encoder.dim(), reference.dim);
    let texts: Vec<&str> = reference.items.iter().map(|i| i.text.as_str()).collect();

    let ids = encoder.tokenize(&texts).expect("tokenizes");
    for (item, got) in reference.items.iter().zip(&ids) {
        assert_eq!(got, &item.input_ids, "{name}: input_ids of {:?}", item.text);
    }

    for max_texts in [1, 8] {
        let limits = BatchLimits {
            max_texts,
            max_tokens: 1 << 20,
        };
        let got = encoder
            .embed_with_progress(&texts, limits, |_| {})
            .expect("embeds");
        for (i, item) in reference.items.iter().enumerate() {
            let v = got.row(i);
            let cos = cosine(v, &item.embedding);
            let max_diff = v
                .iter()
                .zip(&item.embedding)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(
                cos >= 0.99999 && max_diff <= 2e-4,
                "{name} batch {max_texts}: {:?}: cosine {cos}, max abs diff {max_diff}",
                item.text
            );
        }
    }
}

#[test]
fn minilm_matches_sentence_transformers() {
    check_model("all-MiniLM-L6-v2");
}

#[test]
fn mpnet_matches_sentence_transformers() {
    check_model("all-mpnet-base-v2");
}

#[test]
fn xlm_roberta_matches_sentence_transformers() {
    // A random-weight XLM-RoBERTa (BioLORD-2023-M's architecture) with a Unigram tokenizer.
    let folder = common::fixtures().join("reference/xlmr-tiny");
    check_folder("xlmr-tiny", &folder, read_json("xlmr-tiny.reference.json"));
}

#[test]
fn padding_never_changes_a_vector() {
    let encoder = Encoder::load(&common::model_dir("all-MiniLM-L6-v2"), &Device::Cpu).unwrap();
    let texts = [
        "fever",
        "Patient denies chest pain, shortness of breath, or palpitations.",
        "Wilson disease",
        "a",
    ];
    let alone: Vec<Vec<f32>> = texts
        .iter()
        .map(|t| encoder.embed(&[*t]).unwrap().row(0).to_vec())
        .collect();
    // One batch of all four: the short texts are padded to the longest.
    let together = encoder
        .embed_with_progress(
            &texts,
            BatchLimits {
                max_texts: 8,
                max_tokens: 1 << 20,
            },
            |_| {},
        )
        .unwrap();
    for (i, v) in alone.iter().enumerate() {
        let max_diff = v
            .iter()
            .zip(together.row(i))
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            max_diff < 1e-5,
            "{}: padded vector differs by {max_diff}",
            texts[i]
        );
    }
}

#[test]
fn int8_encoders_keep_the_reference_vectors() {
    for name in ["all-MiniLM-L6-v2", "all-mpnet-base-v2"] {
        let reference = reference(name);
        let mut encoder = Encoder::load(&common::model_dir(name), &Device::Cpu).unwrap();
        let report = encoder
            .quantize_int8(&biolore_encoder::Int8Options::default())
            .unwrap();
        assert_eq!(encoder.precision(), biolore_encoder::Precision::Int8);
        // Six dense layers per transformer layer, each about 4× smaller.
        assert_eq!(report.kept, 0);
        assert_eq!(report.converted % 6, 0);
        assert!(report.int8_bytes * 3 < report.float_bytes, "{report:?}");
        let texts: Vec<&str> = reference.items.iter().map(|i| i.text.as_str()).collect();
        let got = encoder.embed(&texts).unwrap();
        for (i, item) in reference.items.iter().enumerate() {
            let cos = cosine(got.row(i), &item.embedding);
            assert!(cos >= 0.999, "{name} int8 {:?}: cosine {cos}", item.text);
        }
    }
}

#[test]
fn precision_names_parse() {
    use biolore_encoder::Precision;
    assert_eq!("int8".parse::<Precision>().unwrap(), Precision::Int8);
    assert_eq!("F32".parse::<Precision>().unwrap(), Precision::F32);
    let err = "fp8".parse::<Precision>().unwrap_err().to_string();
    assert!(err.contains("fp8") && err.contains("int8"), "{err}");
}
