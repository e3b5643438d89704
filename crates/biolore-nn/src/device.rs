//! The `--device` option: `cpu` or `cuda[:N]`, turned into a candle device.

use candle_core::Device;

use crate::error::{ModelError, Result};

/// Parses `cpu`, `cuda` or `cuda:N` into a device.
///
/// `cuda` in a build without the `cuda` feature (or with no usable GPU) is an error that says so.
pub fn parse_device(spec: &str) -> Result<Device> {
    let spec = spec.trim().to_ascii_lowercase();
    if spec == "cpu" {
        return Ok(Device::Cpu);
    }
    let ordinal = match spec.strip_prefix("cuda") {
        Some("") => 0,
        Some(rest) => rest
            .strip_prefix(':')
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                ModelError::InvalidArgument(format!(
                    "device '{spec}': expected cpu, cuda or cuda:N"
                ))
            })?,
        None => {
            return Err(ModelError::InvalidArgument(format!(
                "device '{spec}': expected cpu, cuda or cuda:N"
            )))
        }
    };
    if !candle_core::utils::cuda_is_available() {
        return Err(ModelError::InvalidArgument(format!(
            "device 'cuda:{ordinal}': this biolore was built without CUDA support \
             (rebuild with `cargo build --release --features cuda`)"
        )));
    }
    Device::new_cuda(ordinal).map_err(|e| {
        ModelError::InvalidArgument(format!("device 'cuda:{ordinal}' cannot be opened: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_parses_and_bad_names_are_errors() {
        assert!(matches!(parse_device("cpu"), Ok(Device::Cpu)));
        assert!(matches!(parse_device(" CPU "), Ok(Device::Cpu)));
        let e = parse_device("tpu").unwrap_err().to_string();
        assert!(e.contains("expected cpu, cuda or cuda:N"), "{e}");
        let e = parse_device("cuda:x").unwrap_err().to_string();
        assert!(e.contains("cuda:x"), "{e}");
        #[cfg(not(feature = "cuda"))]
        {
            let e = parse_device("cuda:1").unwrap_err().to_string();
            assert!(e.contains("without CUDA support"), "{e}");
        }
    }
}
