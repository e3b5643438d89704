//! The loss curve: one JSON line per step, and an SVG plot of it next to the model.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// What one training step reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// 1-based step number.
    pub step: usize,
    /// Steps of the run.
    pub steps: usize,
    /// Loss of the step's batch.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
    /// Training items (pairs, names, sentences) per second over this step.
    pub items_per_s: f64,
}

/// Appends one report to a JSONL log.
pub fn append(path: &Path, report: &StepReport) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| TrainError::io(path, e))?;
    let line = serde_json::to_string(report).unwrap_or_default();
    writeln!(f, "{line}").map_err(|e| TrainError::io(path, e))
}

/// Reads a JSONL log (lines that do not parse, such as one cut by a crash, are left out).
pub fn read(path: &Path) -> Result<Vec<StepReport>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(TrainError::io(path, e)),
    }
}

/// Keeps only the reports of steps up to `step` (after resuming from a checkpoint).
pub fn truncate_after(path: &Path, step: usize) -> Result<()> {
    let kept: Vec<String> = read(path)?
        .into_iter()
        .filter(|r| r.step <= step)
        .map(|r| serde_json::to_string(&r).unwrap_or_default())
        .collect();
    let mut text = kept.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| TrainError::io(path, e))
}

/// Draws the loss (and its running mean) against the step as an SVG image.
pub fn plot_svg(reports: &[StepReport], title: &str) -> String {
    let (w, h, left, right, top, bottom) = (720.0, 400.0, 60.0, 20.0, 40.0, 40.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let max_step = reports.iter().map(|r| r.step).max().unwrap_or(1).max(1) as f64;
    let finite: Vec<f64> = reports
        .iter()
        .map(|r| r.loss)
        .filter(|l| l.is_finite())
        .collect();
    let hi = finite.iter().copied().fold(f64::MIN, f64::max).max(1e-9);
    let lo = finite
        .iter()
        .copied()
        .fold(f64::MAX, f64::min)
        .min(hi)
        .min(0.0);
    let x = |s: f64| left + pw * s / max_step;
    let y = |l: f64| top + ph * (1.0 - (l - lo) / (hi - lo).max(1e-9));
    let points = |values: &[(usize, f64)]| -> String {
        values
            .iter()
            .filter(|(_, l)| l.is_finite())
            .map(|&(s, l)| format!("{:.1},{:.1}", x(s as f64), y(l)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let raw: Vec<(usize, f64)> = reports.iter().map(|r| (r.step, r.loss)).collect();
    let window = (reports.len() / 50).max(1);
    let mean: Vec<(usize, f64)> = (0..reports.len())
        .map(|i| {
            let from = i.saturating_sub(window - 1);
            let part = &reports[from..=i];
            (
                reports[i].step,
                part.iter().map(|r| r.loss).sum::<f64>() / part.len() as f64,
            )
        })
        .collect();
    let mut svg = String::new();
    svg.push_str(&format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    ));
    svg.push_str(&format!(
        r#"<rect width="{w}" height="{h}" fill="white"/><text x="{left}" y="24" font-size="14">{}</text>"#,
        escape(title)
    ));
    svg.push_str(&format!(
        r##"<line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="#333"/><line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#333"/>"##,
        top + ph,
        top + ph,
        left + pw,
        top + ph
    ));
    for k in 0..=4 {
        let l = lo + (hi - lo) * f64::from(k) / 4.0;
        svg.push_str(&format!(
            r##"<text x="{}" y="{:.1}" text-anchor="end">{l:.3}</text><line x1="{left}" y1="{:.1}" x2="{}" y2="{:.1}" stroke="#eee"/>"##,
            left - 6.0,
            y(l) + 4.0,
            y(l),
            left + pw,
            y(l)
        ));
    }
    svg.push_str(&format!(
        r#"<text x="{left}" y="{}">step 0</text><text x="{}" y="{}" text-anchor="end">step {}</text>"#,
        h - 12.0,
        left + pw,
        h - 12.0,
        max_step
    ));
    svg.push_str(&format!(
        r##"<polyline fill="none" stroke="#9bb" stroke-width="1" points="{}"/><polyline fill="none" stroke="#036" stroke-width="2" points="{}"/>"##,
        points(&raw),
        points(&mean)
    ));
    svg.push_str("</svg>\n");
    svg
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes the plot of a JSONL log to `svg`.
pub fn write_plot(log: &Path, svg: &Path, title: &str) -> Result<()> {
    let reports = read(log)?;
    std::fs::write(svg, plot_svg(&reports, title)).map_err(|e| TrainError::io(svg, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(step: usize, loss: f64) -> StepReport {
        StepReport {
            step,
            steps: 3,
            loss,
            lr: 1e-5,
            grad_norm: 1.0,
            items_per_s: 2.0,
        }
    }

    #[test]
    fn log_round_trip_truncation_and_plot() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log.jsonl");
        for s in 1..=3 {
            append(&p, &r(s, 4.0 - s as f64)).unwrap();
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"{\"step\": 4, \"lo")
            .unwrap();
        assert_eq!(read(&p).unwrap().len(), 3);
        truncate_after(&p, 2).unwrap();
        let back = read(&p).unwrap();
        assert_eq!(back, vec![r(1, 3.0), r(2, 2.0)]);
        let svg = plot_svg(&back, "a <b>");
        assert!(svg.starts_with("<svg") && svg.contains("polyline") && svg.contains("a &lt;b&gt;"));
    }
}
