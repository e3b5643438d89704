//! `biolore similarity`: the cosine matrix of a few texts, as a table.

use anyhow::{ensure, Result};
use biolore_encoder::cosine;
use clap::Args;

use super::ModelArgs;

/// Arguments of `biolore similarity`.
#[derive(Args, Debug)]
pub struct SimilarityArgs {
    /// Two or more texts.
    #[arg(required = true, num_args = 2..)]
    pub texts: Vec<String>,
    /// Print JSON (`{"texts": [...], "matrix": [[...]]}`) instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub precision: super::PrecisionArgs,
}

/// Runs `biolore similarity`.
pub fn run(args: SimilarityArgs) -> Result<()> {
    ensure!(args.texts.len() >= 2, "give at least two texts");
    let encoder = args.model.load_with(args.precision.precision())?;
    let vectors = encoder.embed_with_progress(&args.texts, args.model.limits(), |_| {})?;
    let n = args.texts.len();
    let matrix: Vec<Vec<f32>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| cosine(vectors.row(i), vectors.row(j)))
                .collect()
        })
        .collect();
    if args.json {
        let out =
            serde_json::json!({ "model": args.model.model, "texts": args.texts, "matrix": matrix });
        println!("{out}");
    } else {
        print!("{}", render_table(&args.texts, &matrix));
    }
    Ok(())
}

/// Shortens `s` to at most `max` characters, marking the cut with an ellipsis.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Renders the matrix with numbered, labelled rows and numbered columns.
pub fn render_table(texts: &[String], matrix: &[Vec<f32>]) -> String {
    let labels: Vec<String> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| format!("[{}] {}", i + 1, clip(t, 40)))
        .collect();
    let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let mut out = format!("{:width$}", "", width = width);
    for j in 0..texts.len() {
        out.push_str(&format!(" {:>7}", format!("[{}]", j + 1)));
    }
    out.push('\n');
    for (label, row) in labels.iter().zip(matrix) {
        let pad = width - label.chars().count();
        out.push_str(label);
        out.push_str(&" ".repeat(pad));
        for v in row {
            out.push_str(&format!(" {v:>7.4}"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_labels_and_values() {
        let texts = vec![
            "Cat scratch disease".to_string(),
            "Bartonellosis".to_string(),
        ];
        let t = render_table(&texts, &[vec![1.0, 0.5], vec![0.5, 1.0]]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("[1] Cat scratch disease"));
        assert!(lines[1].ends_with(" 1.0000  0.5000"));
        assert_eq!(lines[1].chars().count(), lines[2].chars().count());
    }

    #[test]
    fn long_labels_are_clipped() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
