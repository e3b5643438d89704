//! Reading weights from `model.safetensors` or a legacy `pytorch_model.bin`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::error::{ModelError, Result};

/// Weight files biolore reads, in order of preference.
pub const WEIGHT_FILES: [&str; 2] = ["model.safetensors", "pytorch_model.bin"];

/// The weights file of a model folder: `model.safetensors`, else `pytorch_model.bin`.
pub fn find_weights(folder: &Path) -> Result<PathBuf> {
    WEIGHT_FILES
        .iter()
        .map(|f| folder.join(f))
        .find(|p| p.is_file())
        .ok_or_else(|| ModelError::MissingFile {
            path: folder.join(WEIGHT_FILES[0]),
            hint: "the folder has neither model.safetensors nor pytorch_model.bin".into(),
        })
}

/// Loads every tensor of a weights file into memory on `device`.
pub fn load_tensors(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    let invalid = |message: String| ModelError::InvalidWeights {
        path: path.to_path_buf(),
        message,
    };
    let is_pickle = path
        .extension()
        .is_some_and(|e| e == "bin" || e == "pt" || e == "pth");
    if is_pickle {
        let tensors = candle_core::pickle::read_all(path)
            .map_err(|e| invalid(format!("not a readable PyTorch checkpoint: {e}")))?;
        let mut out = HashMap::with_capacity(tensors.len());
        for (name, t) in tensors {
            out.insert(name, t.to_device(device)?);
        }
        return Ok(out);
    }
    let io = |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    // Mapped rather than read: the tensors below are the only copy in process memory (reading
    // the file first held a second one at load; mapped pages are reclaimable page cache).
    // SAFETY: the map is only read, here, and dropped before returning; as with every mapped
    // model file (candle, transformers), another process truncating the file meanwhile would
    // fault this one.
    let bytes = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
    // Validate the header and offsets before building tensors, so corruption is reported as such.
    safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| invalid(format!("not a valid safetensors file: {e}")))?;
    candle_core::safetensors::load_buffer(&bytes, device)
        .map_err(|e| invalid(format!("cannot decode tensors: {e}")))
}

impl crate::models::decoder::DecoderWeights for VarBuilder<'_> {
    fn tensor(&self, name: &str, shape: &[usize]) -> candle_core::Result<Tensor> {
        self.get(shape, name)
    }

    fn linear(
        &self,
        prefix: &str,
        in_dim: usize,
        out_dim: usize,
        bias: bool,
    ) -> candle_core::Result<crate::blocks::Linear> {
        let vb = self.pp(prefix);
        let weight = vb.get((out_dim, in_dim), "weight")?;
        let bias = if bias {
            Some(vb.get(out_dim, "bias")?)
        } else {
            None
        };
        crate::blocks::Linear::new(weight, bias)
    }

    fn contains(&self, name: &str) -> bool {
        self.contains_tensor(name)
    }
}

/// A variable builder over a weights file, giving float32 tensors.
pub fn var_builder(path: &Path, device: &Device) -> Result<VarBuilder<'static>> {
    let tensors = load_tensors(path, device)?;
    Ok(VarBuilder::from_tensors(tensors, DType::F32, device))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_and_missing_weights_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = find_weights(dir.path()).unwrap_err().to_string();
        assert!(e.contains("model.safetensors"), "{e}");
        let p = dir.path().join("model.safetensors");
        std::fs::write(&p, b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage").unwrap();
        let e = load_tensors(&p, &Device::Cpu).unwrap_err().to_string();
        assert!(
            e.contains("model.safetensors") && e.contains("safetensors"),
            "{e}"
        );
        let p = dir.path().join("pytorch_model.bin");
        std::fs::write(&p, b"not a zip or pickle").unwrap();
        let e = load_tensors(&p, &Device::Cpu).unwrap_err().to_string();
        assert!(e.contains("pytorch_model.bin"), "{e}");
    }

    #[test]
    fn safetensors_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.safetensors");
        let t = Tensor::from_vec(vec![1f32, 2., 3.], 3, &Device::Cpu).unwrap();
        candle_core::safetensors::save(&HashMap::from([("w".to_string(), t)]), &p).unwrap();
        let back = load_tensors(&p, &Device::Cpu).unwrap();
        assert_eq!(back["w"].to_vec1::<f32>().unwrap(), vec![1., 2., 3.]);
    }

    /// A legacy checkpoint written by `torch.save` (scripts/make-torch-fixture.py): dtypes,
    /// tied names, a tensor inside a larger storage and a transposed view read as PyTorch
    /// holds them.
    #[test]
    fn pytorch_checkpoints_read_as_torch_wrote_them() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/torch");
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap())
                .unwrap();
        let expected = expected.as_object().unwrap();
        let tensors = load_tensors(&dir.join("pytorch_model.bin"), &Device::Cpu).unwrap();
        let mut names: Vec<_> = tensors.keys().cloned().collect();
        names.sort();
        let mut wanted: Vec<_> = expected.keys().cloned().collect();
        wanted.sort();
        assert_eq!(names, wanted);
        for (name, want) in expected {
            let t = &tensors[name];
            let dtype = match want["dtype"].as_str().unwrap() {
                "float32" => DType::F32,
                "float16" => DType::F16,
                "bfloat16" => DType::BF16,
                "int64" => DType::I64,
                other => panic!("fixture dtype {other}"),
            };
            assert_eq!(t.dtype(), dtype, "{name}");
            // Numbers of a JSON array as f32: exact for every value here (f32 values, small
            // integers), where the JSON parser may misround the last bit of an f64.
            let numbers = |key: &str| -> Vec<f32> {
                let list = want[key].as_array().unwrap();
                list.iter().map(|v| v.as_f64().unwrap() as f32).collect()
            };
            let shape: Vec<usize> = numbers("shape").iter().map(|&d| d as usize).collect();
            assert_eq!(t.dims(), shape.as_slice(), "{name}");
            let values = numbers("values");
            let got: Vec<f32> = t
                .flatten_all()
                .unwrap()
                .to_dtype(DType::F32)
                .unwrap()
                .to_vec1()
                .unwrap();
            assert_eq!(got, values, "{name}");
        }
    }
}
