//! Progress bars on stderr with rate and ETA (drawn only when stderr is a terminal).

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar over `total` items named `unit`, hidden for small jobs.
pub fn bar(total: usize, unit: &str, min_total: usize) -> ProgressBar {
    if total < min_total {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total as u64);
    let template = format!(
        "{{spinner}} {{bar:40.cyan/blue}} {{pos}}/{{len}} {unit} {{per_sec}} ETA {{eta}} {{msg}}"
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}
