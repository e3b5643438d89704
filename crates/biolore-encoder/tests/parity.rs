//! Parity with sentence-transformers: token ids and embeddings of the reference fixtures.

mod common;

use biolore_encoder::{cosine, BatchLimits, Encoder, Precision};
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

/// Inference on the real tokens in reused buffers gives each text the same bits in any batch
/// (alone, batched, with the work split across a pool's threads), the tensor pass's bits for a
/// text alone, and the padded tensor pass's states to float rounding (float32 packed and int8
/// weights).
#[test]
fn the_pass_on_rows_gives_each_text_the_same_bits_in_any_batch() {
    // Finds the OpenBLAS that scripts/setup.sh installs beside the models.
    common::repo_root();
    if std::env::var("CI").as_deref() == Ok("true") {
        assert!(biolore_nn::kernels::gemm::available(), "no OpenBLAS loaded");
    }
    if !biolore_nn::kernels::packed_gemm::enabled() || !biolore_nn::kernels::gemm::available() {
        eprintln!("packed kernels or BLAS not available here: the pass on rows is not used");
        return;
    }
    let texts = [
        "Patient denies chest pain, shortness of breath, or palpitations.",
        "fever",
        "autosomal dominant polycystic kidney disease type 1",
        "a",
    ];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for name in ["all-MiniLM-L6-v2", "all-mpnet-base-v2"] {
        let folder = common::model_dir(name);
        let packed = Encoder::load_with_precision(&folder, &Device::Cpu, Precision::F32).unwrap();
        let int8 = Encoder::load_with_precision(&folder, &Device::Cpu, Precision::Int8).unwrap();
        for (kind, encoder) in [("packed", &packed), ("int8", &int8)] {
            let model = encoder.transformer();
            assert!(model.runs_on_rows(), "{name} {kind}");
            let ids = encoder.tokenize(&texts).unwrap();
            let seqs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
            let (batch_ids, mask) = encoder.pad_batch(&seqs).unwrap();
            let padded = model.forward_padded(&batch_ids, &mask, false).unwrap();
            let rows = model.forward(&batch_ids, &mask, false).unwrap();
            let split = pool
                .install(|| {
                    biolore_nn::runtime::with_kernel_split(2, || {
                        model.forward(&batch_ids, &mask, false)
                    })
                })
                .unwrap();
            let [rows, split, padded] = [rows, split, padded].map(|t| t.to_vec3::<f32>().unwrap());
            for (i, seq) in seqs.iter().enumerate() {
                let (one_ids, one_mask) = encoder.pad_batch(&[seq]).unwrap();
                let alone = model.forward(&one_ids, &one_mask, false).unwrap();
                let alone_padded = model.forward_padded(&one_ids, &one_mask, false).unwrap();
                let [alone, alone_padded] =
                    [alone, alone_padded].map(|t| t.to_vec3::<f32>().unwrap());
                for t in 0..seq.len() {
                    let text = texts[i];
                    assert_eq!(alone[0][t], rows[i][t], "{name} {kind}: {text:?} alone");
                    assert_eq!(split[i][t], rows[i][t], "{name} {kind}: {text:?} split");
                    // With nothing to pad, the tensor pass computes the same products.
                    assert_eq!(alone_padded[0][t], rows[i][t], "{name} {kind}: {text:?}");
                    // Padded, its attention products are longer: float rounding, which int8's
                    // requantization amplifies (a code rounded the other way moves a state by
                    // a quantum).
                    let cos = cosine(&padded[i][t], &rows[i][t]);
                    assert!(cos >= 0.9995, "{name} {kind}: {text:?}: cos {cos}");
                }
                // Padded positions are zero on rows.
                assert!(rows[i][seq.len()..].iter().flatten().all(|&v| v == 0.0));
            }
        }
    }
}
