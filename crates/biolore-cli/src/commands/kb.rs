//! `biolore kb import|info`: read terminologies into a compact on-disk KB.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use biolore_kb::load::{self, umls::UmlsOptions, Loaded, Policy};
use biolore_kb::{store, KnowledgeBase};
use clap::{Args, Subcommand, ValueEnum};

/// Source formats `kb import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// CTD disease vocabulary TSV (.tsv or .tsv.gz).
    Ctd,
    /// BioSyn dictionary `ID||name|synonym…`.
    Biosyn,
    /// OBO ontology (Disease Ontology, HPO, MONDO).
    Obo,
    /// UMLS Metathesaurus RRF (folder with MRCONSO.RRF, or the files).
    Umls,
    /// ICD-10-CM tabular XML.
    Icd10cm,
    /// biolore concept JSONL.
    Jsonl,
}

/// What to do with malformed lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnError {
    /// Report and skip them.
    Skip,
    /// Stop at the first.
    Fail,
}

/// `biolore kb` subcommands.
#[derive(Subcommand, Debug)]
pub enum KbCommand {
    /// Read terminology files into a KB file.
    Import(ImportArgs),
    /// Combine KB files into one (concepts with the same id merge).
    Merge {
        /// KB files from `biolore kb import`, in order.
        #[arg(required = true, num_args = 2..)]
        inputs: Vec<PathBuf>,
        /// Output KB file.
        #[arg(long, short = 'o')]
        out: PathBuf,
    },
    /// Show a KB's size and how fast it loads.
    Info {
        /// The KB file.
        kb: PathBuf,
    },
}

/// Arguments of `biolore kb import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Source format.
    #[arg(long, value_enum)]
    pub format: Format,
    /// Input files (or, for UMLS, the META folder).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output KB file.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Malformed lines: skip (reported and counted) or fail.
    #[arg(long, value_enum, default_value = "skip")]
    pub on_error: OnError,
    /// UMLS: languages to keep (LAT).
    #[arg(long, default_value = "ENG", value_delimiter = ',')]
    pub umls_languages: Vec<String>,
    /// UMLS: source vocabularies to keep (SAB); all when empty.
    #[arg(long, value_delimiter = ',')]
    pub umls_sources: Vec<String>,
    /// UMLS: keep suppressed names.
    #[arg(long)]
    pub umls_include_suppressed: bool,
}

/// Loads terminology files in `format`.
pub fn load_source(
    format: Format,
    paths: &[PathBuf],
    policy: Policy,
    umls: &UmlsOptions,
) -> Result<Loaded> {
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let loaded = match format {
        Format::Ctd => load::ctd::load(&refs, policy),
        Format::Biosyn => load::biosyn::load(&refs, policy),
        Format::Obo => load::obo::load(&refs, policy),
        Format::Umls => load::umls::load(&refs, policy, umls),
        Format::Icd10cm => load::icd10cm::load(&refs, policy),
        Format::Jsonl => load::jsonl::load(&refs, policy),
    }?;
    Ok(loaded)
}

/// Runs `biolore kb …`.
pub fn run(command: KbCommand) -> Result<()> {
    match command {
        KbCommand::Import(args) => {
            let policy = match args.on_error {
                OnError::Skip => Policy::Skip,
                OnError::Fail => Policy::Fail,
            };
            let umls = UmlsOptions {
                languages: args.umls_languages.clone(),
                include_suppressed: args.umls_include_suppressed,
                sources: args.umls_sources.clone(),
            };
            let start = Instant::now();
            let mut loaded = load_source(args.format, &args.paths, policy, &umls)?;
            anyhow::ensure!(!loaded.kb.is_empty(), "no concepts found in the input");
            loaded.kb.source = format!(
                "{}: {}",
                format!("{:?}", args.format).to_lowercase(),
                args.paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            store::save(&loaded.kb, &args.out)
                .with_context(|| format!("writing {}", args.out.display()))?;
            eprintln!(
                "{} concepts, {} names → {} ({} malformed lines skipped) in {:.2}s",
                loaded.kb.len(),
                loaded.kb.name_count(),
                args.out.display(),
                loaded.skipped,
                start.elapsed().as_secs_f64()
            );
            Ok(())
        }
        KbCommand::Merge { inputs, out } => merge(&inputs, &out),
        KbCommand::Info { kb } => {
            let start = Instant::now();
            let loaded = store::open(&kb)?;
            let secs = start.elapsed().as_secs_f64();
            let defs = loaded
                .concepts()
                .iter()
                .filter(|c| !c.definitions.is_empty())
                .count();
            println!(
                "{}\n  source: {}\n  concepts: {}\n  names: {}\n  with definitions: {}\n  load time: {:.3}s",
                kb.display(),
                loaded.source,
                loaded.len(),
                loaded.name_count(),
                defs,
                secs
            );
            Ok(())
        }
    }
}

/// `biolore kb merge`: the inputs' concepts in order, same ids merged, written to `out`.
fn merge(inputs: &[PathBuf], out: &Path) -> Result<()> {
    let start = Instant::now();
    let mut merged = KnowledgeBase::new("");
    let mut sources = Vec::with_capacity(inputs.len());
    let mut shared = 0;
    for path in inputs {
        let kb = store::open(path).with_context(|| format!("reading {}", path.display()))?;
        sources.push(format!("{} ({})", path.display(), kb.source));
        shared += merged.absorb(kb);
    }
    merged.source = format!("merged: {}", sources.join("; "));
    store::save(&merged, out).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "{} concepts ({} merged by a shared id), {} names → {} in {:.2}s",
        merged.len(),
        shared,
        merged.name_count(),
        out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
