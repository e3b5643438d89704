//! Checkpoints: weights, optimizer moments and the step, written atomically under `OUT/checkpoints/`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::optim::AdamW;
use crate::parameters::Trainable;

/// What a checkpoint records besides tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Steps completed.
    pub step: usize,
    /// The run that wrote it (settings, phase and data); a resume must match it.
    pub identity: String,
}

const STATE: &str = "state.json";
const WEIGHTS: &str = "model.safetensors";
const OPTIMIZER: &str = "optimizer.safetensors";

/// The folder holding a run's checkpoints.
pub fn folder(out: &Path) -> PathBuf {
    out.join("checkpoints")
}

/// The newest complete checkpoint of `out`, if any.
pub fn latest(out: &Path) -> Result<Option<(PathBuf, CheckpointState)>> {
    let dir = folder(out);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(TrainError::io(&dir, e)),
    };
    let mut best: Option<(PathBuf, CheckpointState)> = None;
    for entry in entries {
        let path = entry.map_err(|e| TrainError::io(&dir, e))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().to_string());
        if !name.is_some_and(|n| n.starts_with("step-") && !n.ends_with(".partial")) {
            continue;
        }
        let state_path = path.join(STATE);
        let Ok(text) = std::fs::read_to_string(&state_path) else {
            continue;
        };
        let state: CheckpointState =
            serde_json::from_str(&text).map_err(|e| TrainError::Config {
                path: state_path.clone(),
                message: e.to_string(),
            })?;
        if best.as_ref().is_none_or(|(_, b)| state.step > b.step) {
            best = Some((path, state));
        }
    }
    Ok(best)
}

/// Writes a checkpoint of `step` and removes older ones.
pub fn save(
    out: &Path,
    state: &CheckpointState,
    model: &dyn Trainable,
    optimizer: &AdamW,
) -> Result<PathBuf> {
    let dir = folder(out);
    let final_path = dir.join(format!("step-{:07}", state.step));
    let tmp = dir.join(format!("step-{:07}.partial", state.step));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    model.parameters().save_weights(&tmp.join(WEIGHTS))?;
    optimizer.save(model, &tmp.join(OPTIMIZER))?;
    let state_path = tmp.join(STATE);
    let text = serde_json::to_string_pretty(state).unwrap_or_default();
    std::fs::write(&state_path, text).map_err(|e| TrainError::io(&state_path, e))?;
    if final_path.exists() {
        std::fs::remove_dir_all(&final_path).map_err(|e| TrainError::io(&final_path, e))?;
    }
    std::fs::rename(&tmp, &final_path).map_err(|e| TrainError::io(&final_path, e))?;
    // Only the newest checkpoint is kept.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let p = entry.path();
            if p != final_path && p.is_dir() {
                let _ = std::fs::remove_dir_all(&p);
            }
        }
    }
    Ok(final_path)
}

/// Loads a checkpoint's weights and optimizer state into `model` and `optimizer`.
pub fn restore(dir: &Path, model: &dyn Trainable, optimizer: &mut AdamW) -> Result<()> {
    model
        .parameters()
        .set_weights(&dir.join(WEIGHTS), model.device())?;
    optimizer.load(model, &dir.join(OPTIMIZER))
}
