//! The training loop shared by both phases: schedule, clipping, AdamW, logging, checkpoints, resume.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, CheckpointState};
use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::log::{self, StepReport};
use crate::model::TrainableModel;
use crate::optim::{clip_grad_norm, AdamW, Schedule};
use crate::parameters::Trainable;
use crate::step::Gradients;

/// What a phase computes at each step, for a model of type `M` (an encoder by default).
///
/// An objective receives the model and its step and returns the step's loss and gradients:
/// contrastive learning and self-distillation train sentence encoders, language modelling
/// trains decoders; the loop below is the same for all.
pub trait Objective<M: ?Sized = TrainableModel> {
    /// The phase's name (`contrastive`, `distill`, `language-model`).
    fn phase(&self) -> &'static str;
    /// What identifies the data (so a checkpoint is not resumed on other data).
    fn data_identity(&self) -> String;
    /// Gradients and loss of 0-based `step`, and how many training items it used.
    fn gradients(&mut self, model: &M, step: usize) -> Result<(Gradients, usize)>;
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Steps completed in total.
    pub steps_done: usize,
    /// The checkpoint step the run resumed from, if it did.
    pub resumed_from: Option<usize>,
    /// Whether the run stopped early (interrupted) after saving a checkpoint.
    pub interrupted: bool,
    /// Mean loss of the last 10% of the steps run in this invocation.
    pub final_loss: f64,
    /// Training items per second over this invocation.
    pub items_per_s: f64,
    /// Seconds this invocation trained.
    pub seconds: f64,
}

/// Log file name inside the output folder.
pub const LOG_FILE: &str = "training_log.jsonl";
/// Plot file name inside the output folder.
pub const PLOT_FILE: &str = "loss.svg";
const STATE_FILE: &str = "training_state.json";

/// Trains `model` on `objective` and saves it (as the model saves itself) in `out`.
///
/// Resumes from `out`'s newest checkpoint when it was written by the same run; `stop`, when set,
/// makes the loop write a checkpoint and return after the current step.
pub fn train<M: Trainable>(
    model: &M,
    objective: &mut dyn Objective<M>,
    config: &TrainConfig,
    out: &Path,
    stop: Option<&AtomicBool>,
    observer: &mut dyn FnMut(&StepReport),
) -> Result<Outcome> {
    config.validate()?;
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    let identity = format!(
        "{}|{}|{}",
        objective.phase(),
        config.run_identity(),
        objective.data_identity()
    );
    let log_path = out.join(LOG_FILE);
    let mut optimizer = AdamW::new(model, config.weight_decay);
    let mut start = 0;
    let mut resumed_from = None;
    let state_path = out.join(STATE_FILE);
    if let Ok(text) = std::fs::read_to_string(&state_path) {
        if let Ok(done) = serde_json::from_str::<CheckpointState>(&text) {
            if done.identity == identity && done.step >= config.steps {
                tracing::info!(out = %out.display(), "this run is already complete");
                return Ok(Outcome {
                    steps_done: done.step,
                    resumed_from: Some(done.step),
                    interrupted: false,
                    final_loss: f64::NAN,
                    items_per_s: 0.0,
                    seconds: 0.0,
                });
            }
        }
    }
    if let Some((dir, state)) = checkpoint::latest(out)? {
        if state.identity != identity {
            return Err(TrainError::Mismatch(format!(
                "{} holds a checkpoint of a different run (other settings, phase or data); \
                 choose another --out or delete {}",
                out.display(),
                checkpoint::folder(out).display()
            )));
        }
        checkpoint::restore(&dir, model, &mut optimizer)?;
        start = state.step;
        resumed_from = Some(state.step);
        log::truncate_after(&log_path, start)?;
        tracing::info!(step = start, "resumed from checkpoint {}", dir.display());
    } else if log_path.exists() {
        std::fs::remove_file(&log_path).map_err(|e| TrainError::io(&log_path, e))?;
    }
    let schedule = Schedule {
        peak: config.lr,
        warmup: config.warmup_steps(),
        total: config.steps,
    };
    let began = Instant::now();
    let mut items_total = 0usize;
    let mut losses = Vec::new();
    let mut interrupted = false;
    let mut step = start;
    while step < config.steps {
        let t0 = Instant::now();
        let lr = schedule.lr(step);
        let (mut grads, items) = objective.gradients(model, step)?;
        if !grads.loss.is_finite() {
            return Err(TrainError::Mismatch(format!(
                "the loss became {} at step {}; lower the learning rate",
                grads.loss,
                step + 1
            )));
        }
        let t_update = Instant::now();
        let grad_norm = clip_grad_norm(&mut grads.grads, config.max_grad_norm);
        optimizer.step(model, &grads.grads, lr)?;
        tracing::debug!(
            update_s = t_update.elapsed().as_secs_f64(),
            "optimizer step"
        );
        step += 1;
        items_total += items;
        losses.push(grads.loss);
        let report = StepReport {
            step,
            steps: config.steps,
            loss: grads.loss,
            lr,
            grad_norm,
            items_per_s: items as f64 / t0.elapsed().as_secs_f64().max(1e-9),
        };
        log::append(&log_path, &report)?;
        observer(&report);
        let stopping = stop.is_some_and(|s| s.load(Ordering::SeqCst));
        if step % config.checkpoint_every.max(1) == 0 || step == config.steps || stopping {
            let state = CheckpointState {
                step,
                identity: identity.clone(),
            };
            checkpoint::save(out, &state, model, &optimizer)?;
            log::write_plot(&log_path, &out.join(PLOT_FILE), objective.phase())?;
        }
        if stopping && step < config.steps {
            interrupted = true;
            break;
        }
    }
    let seconds = began.elapsed().as_secs_f64();
    if !interrupted {
        model.save(out)?;
        let cfg_path = out.join("training_config.toml");
        std::fs::write(&cfg_path, config.to_toml()).map_err(|e| TrainError::io(&cfg_path, e))?;
        log::write_plot(&log_path, &out.join(PLOT_FILE), objective.phase())?;
        let done = CheckpointState {
            step,
            identity: identity.clone(),
        };
        let text = serde_json::to_string_pretty(&done).unwrap_or_default();
        std::fs::write(&state_path, text).map_err(|e| TrainError::io(&state_path, e))?;
    }
    let tail = (losses.len() / 10).max(1).min(losses.len().max(1));
    let final_loss = if losses.is_empty() {
        f64::NAN
    } else {
        losses[losses.len() - tail..].iter().sum::<f64>() / tail as f64
    };
    Ok(Outcome {
        steps_done: step,
        resumed_from,
        interrupted,
        final_loss,
        items_per_s: items_total as f64 / seconds.max(1e-9),
        seconds,
    })
}
