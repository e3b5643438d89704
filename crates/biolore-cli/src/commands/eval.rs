//! `biolore eval link`: acc@1 and acc@5 on a PubTator corpus under the BioSyn/SapBERT protocol;
//! `biolore eval relatedness`: Spearman correlation with human relatedness ratings.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use biolore_link::evaluate;
use clap::{Args, Subcommand};

use super::link::IndexArgs;

/// `biolore eval` subcommands.
#[derive(Subcommand, Debug)]
pub enum EvalCommand {
    /// Entity linking accuracy on an annotated PubTator corpus.
    Link(EvalLinkArgs),
    /// Concept relatedness: Spearman correlation of cosine similarity with human ratings (EHR-Rel).
    Relatedness(RelatednessArgs),
    /// Adverse-drug-event extraction: precision, recall, F1 of a student or of a teacher's labels.
    Extract(super::eval_extract::EvalExtractArgs),
}

/// Arguments of `biolore eval relatedness`.
#[derive(Args, Debug)]
pub struct RelatednessArgs {
    /// Rated pairs: TSV with `snomed_label_1`, `snomed_label_2` and `mean_rating` columns.
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub model: super::ModelArgs,
    #[command(flatten)]
    pub precision: super::PrecisionArgs,
}

fn relatedness(args: RelatednessArgs) -> Result<()> {
    let pairs = biolore_train::relatedness::read_pairs(&args.data)?;
    let encoder = args.model.load_with(args.precision.precision())?;
    let report = biolore_train::relatedness::evaluate(&encoder, &pairs, &args.data)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{}: Spearman {:.4}, Pearson {:.4} on {} pairs ({})",
            report.model, report.spearman, report.pearson, report.n, report.data
        );
    }
    Ok(())
}

/// Arguments of `biolore eval link`.
#[derive(Args, Debug)]
pub struct EvalLinkArgs {
    /// Annotated corpus: PubTator, or BioC JSON (`.json`) or biolore JSONL (`.jsonl`).
    #[arg(long)]
    pub corpus: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Where to write the rank-1 errors (JSONL).
    #[arg(long, default_value = "link-errors.jsonl")]
    pub errors: PathBuf,
    #[command(flatten)]
    pub index: IndexArgs,
    #[command(flatten)]
    pub choice: super::link::LinkerChoiceArgs,
}

/// Runs `biolore eval …`.
pub fn run(command: EvalCommand) -> Result<()> {
    let args = match command {
        EvalCommand::Link(args) => args,
        EvalCommand::Relatedness(args) => return relatedness(args),
        EvalCommand::Extract(args) => return super::eval_extract::run(args),
    };
    let index_dir = args
        .index
        .index
        .clone()
        .context("eval link needs --index (build one with `biolore index build`)")?;
    let docs = biolore_text::read(&args.corpus, biolore_text::Format::from_path(&args.corpus))?;
    let opened = args.index.open()?;
    let ranker = args
        .choice
        .open(opened.linker.clone(), &args.index.device.device()?)?;
    let mut report = evaluate(ranker.as_ref(), &docs, args.index.queries())
        .with_context(|| format!("evaluating on {}", args.corpus.display()))?;
    report.added_names = opened.added;
    {
        let file = std::fs::File::create(&args.errors)
            .with_context(|| format!("cannot create {}", args.errors.display()))?;
        let mut w = std::io::BufWriter::new(file);
        for e in &report.errors {
            serde_json::to_writer(&mut w, e)?;
            writeln!(w)?;
        }
        w.flush()?;
    }
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        v["errors_file"] = serde_json::Value::String(args.errors.display().to_string());
        v["index"] = serde_json::Value::String(index_dir.display().to_string());
        v["corpus"] = serde_json::Value::String(args.corpus.display().to_string());
        v["linker"] = serde_json::Value::String(ranker.kind().to_string());
        println!("{v}");
    } else {
        let s = &report.stats;
        println!(
            "corpus   {} ({} documents, {} annotations)",
            args.corpus.display(),
            s.documents,
            s.annotations
        );
        println!(
            "index    {} ({} names, model {})",
            index_dir.display(),
            opened.linker.index().names().len(),
            opened.linker.index().manifest().model
        );
        println!("acc@1    {:.4}", report.acc1);
        println!("acc@5    {:.4}", report.acc5);
        println!("n        {}", report.n);
        println!("without id (left out): {}", s.without_id);
        println!(
            "composite mentions: {} ({} split into parts)",
            s.composites, s.composites_split
        );
        println!(
            "abbreviations: {} ({} mentions expanded)",
            if report.abbreviation_expansion {
                "expanded"
            } else {
                "not expanded"
            },
            s.abbreviations_expanded
        );
        if report.added_names > 0 {
            println!("training mentions added as names: {}", report.added_names);
        }
        println!(
            "errors   {} → {}",
            report.errors.len(),
            args.errors.display()
        );
    }
    Ok(())
}
