//! Bad model files give errors that name the file, never a panic: truncated and bit-flipped
//! copies of real GGUF and safetensors files, unknown quantization types, tensors of the wrong
//! shape, unsupported architectures and tokenizers that do not belong to the model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use biolore_nn::gguf::GgufFile;
use biolore_nn::heads::LanguageModel;
use biolore_nn::models::decoder::tensor_shapes;
use biolore_nn::models::{DecoderConfig, Transformer, TransformerConfig};
use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn installed(name: &str) -> PathBuf {
    let path = std::env::var_os("BIOLORE_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models"))
        .join(name);
    assert!(
        path.exists(),
        "{name} is not installed at {}: run scripts/setup.sh (the README's test command does)",
        path.display()
    );
    path
}

/// Loads a GGUF file as far as it goes; a corrupt file must be an `Err`, never a panic.
fn try_gguf(path: &Path) -> Result<(), String> {
    let file = GgufFile::open(path).map_err(|e| e.to_string())?;
    file.decoder_config().map_err(|e| e.to_string())?;
    file.tokenizer().map_err(|e| e.to_string())?;
    LanguageModel::from_gguf(path, true, &Device::Cpu).map_err(|e| e.to_string())?;
    Ok(())
}

#[test]
fn truncated_and_bit_flipped_gguf_files_are_errors() {
    let original = std::fs::read(installed("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smollm2-copy.gguf");
    for cut in [
        0,
        3,
        8,
        20,
        1_000,
        100_000,
        1_500_000,
        original.len() / 2,
        original.len() - 1,
    ] {
        std::fs::write(&path, &original[..cut]).unwrap();
        let e = try_gguf(&path).expect_err(&format!("a copy cut at {cut} bytes loaded"));
        assert!(e.contains("smollm2-copy.gguf"), "cut at {cut}: {e}");
    }
    // Flips in the header (metadata, vocabulary, tensor table) and in the tensor data.
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut failures = 0;
    for round in 0..24 {
        let mut bytes = original.clone();
        let limit = if round % 3 == 2 {
            bytes.len()
        } else {
            1_600_000
        };
        for _ in 0..4 {
            let at = rng.random_range(0..limit);
            bytes[at] ^= 1 << rng.random_range(0..8);
        }
        std::fs::write(&path, &bytes).unwrap();
        if try_gguf(&path).is_err() {
            failures += 1;
        }
    }
    eprintln!("{failures} of 24 bit-flipped copies were refused, the rest loaded; none panicked");
}

/// A one-tensor GGUF whose tensor type field reads `ggml_type`.
fn gguf_with_type(path: &Path, ggml_type: u32) {
    let t = candle_core::quantized::QTensor::quantize(
        &Tensor::zeros(32, DType::F32, &Device::Cpu).unwrap(),
        candle_core::quantized::GgmlDType::F32,
    )
    .unwrap();
    let arch = candle_core::quantized::gguf_file::Value::String("llama".into());
    let mut file = std::fs::File::create(path).unwrap();
    candle_core::quantized::gguf_file::write(
        &mut file,
        &[("general.architecture", &arch)],
        &[("token_embd.weight", &t)],
    )
    .unwrap();
    drop(file);
    let mut bytes = std::fs::read(path).unwrap();
    let name = b"token_embd.weight";
    let at = bytes.windows(name.len()).position(|w| w == name).unwrap() + name.len();
    // n_dims (u32) and one u64 dimension, then the type.
    let type_at = at + 4 + 8;
    bytes[type_at..type_at + 4].copy_from_slice(&ggml_type.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn unknown_quantization_types_and_missing_metadata_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.gguf");
    gguf_with_type(&path, 0);
    let file = GgufFile::open(&path).expect("a valid one-tensor file opens");
    let e = file.decoder_config().unwrap_err().to_string();
    assert!(e.contains("odd.gguf") && e.contains("head_count"), "{e}");
    gguf_with_type(&path, 99);
    let e = GgufFile::open(&path).unwrap_err().to_string();
    assert!(
        e.contains("odd.gguf") && e.to_lowercase().contains("dtype"),
        "{e}"
    );
}

#[test]
fn truncated_and_bit_flipped_safetensors_are_errors() {
    let folder = installed("all-MiniLM-L6-v2");
    let original = std::fs::read(folder.join("model.safetensors")).unwrap();
    let config = TransformerConfig::from_file(&folder.join("config.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let try_load = |path: &Path| -> Result<(), String> {
        let vb = biolore_nn::weights::var_builder(path, &Device::Cpu).map_err(|e| e.to_string())?;
        Transformer::load(&config, vb).map_err(|e| e.to_string())?;
        Ok(())
    };
    for cut in [0, 7, 8, 100, 5_000, original.len() / 2, original.len() - 1] {
        std::fs::write(&path, &original[..cut]).unwrap();
        let e = try_load(&path).expect_err(&format!("a copy cut at {cut} bytes loaded"));
        assert!(e.contains("model.safetensors"), "cut at {cut}: {e}");
    }
    let header = 8 + u64::from_le_bytes(original[..8].try_into().unwrap()) as usize;
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    for _ in 0..24 {
        let mut bytes = original.clone();
        for _ in 0..3 {
            let at = rng.random_range(0..header);
            bytes[at] ^= 1 << rng.random_range(0..8);
        }
        std::fs::write(&path, &bytes).unwrap();
        // Either refused with a message or (a flip in a name's letters aside) loaded: no panic.
        let _ = try_load(&path);
    }
}

/// A Hugging Face decoder folder with random weights; `edit` may change the config or tensors.
fn decoder_folder(dir: &Path, edit: impl Fn(&mut serde_json::Value, &mut HashMap<String, Tensor>)) {
    let mut json = serde_json::json!({
        "model_type": "llama", "vocab_size": 2001, "hidden_size": 32,
        "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
        "intermediate_size": 64, "max_position_embeddings": 64, "tie_word_embeddings": true
    });
    let config: DecoderConfig = serde_json::from_value(json.clone()).unwrap();
    let mut tensors: HashMap<String, Tensor> = tensor_shapes(&config)
        .into_iter()
        .map(|(n, s)| (n, Tensor::ones(s, DType::F32, &Device::Cpu).unwrap()))
        .collect();
    edit(&mut json, &mut tensors);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("config.json"), json.to_string()).unwrap();
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors")).unwrap();
    std::fs::copy(
        repo_root().join("fixtures/reference/xlmr-tiny/tokenizer.json"),
        dir.join("tokenizer.json"),
    )
    .unwrap();
}

#[test]
fn wrong_shapes_architectures_and_tokenizers_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("ok");
    decoder_folder(&ok, |_, _| {});
    assert!(LanguageModel::from_folder(&ok, &Device::Cpu).is_ok());

    let shape = dir.path().join("shape");
    decoder_folder(&shape, |_, t| {
        t.insert(
            "model.layers.0.mlp.up_proj.weight".into(),
            Tensor::ones((63, 32), DType::F32, &Device::Cpu).unwrap(),
        );
    });
    let e = LanguageModel::from_folder(&shape, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("model.safetensors") && e.contains("up_proj"),
        "{e}"
    );

    let arch = dir.path().join("arch");
    decoder_folder(&arch, |j, _| j["model_type"] = "gpt2".into());
    let e = LanguageModel::from_folder(&arch, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("config.json") && e.contains("gpt2"), "{e}");

    let vocab = dir.path().join("vocab");
    decoder_folder(&vocab, |j, t| {
        j["vocab_size"] = 100.into();
        t.insert(
            "model.embed_tokens.weight".into(),
            Tensor::ones((100, 32), DType::F32, &Device::Cpu).unwrap(),
        );
    });
    let e = LanguageModel::from_folder(&vocab, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("do not belong together"), "{e}");
}
