//! `voicetune compare`: the bake-off. Every voice answers the same held-out prompts; the
//! report (HTML, with a markdown twin and a JSON file beside it) says which one writes most
//! like the author and which leaks its data's junk. A summary goes to the terminal.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use voicetune::compare::{compare, report, CompareRequest};

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Voices to compare, comma-separated: `base` (the default local model) or voices
    /// registered in this workspace (local LoRA voices, remote fine-tunes, OpenAI-compatible
    /// endpoints).
    #[arg(long, value_delimiter = ',', required = true)]
    pub voices: Vec<String>,
    /// Held-out JSONL the voices never saw: each line's last assistant turn (or completion, or
    /// the rest of a text) is the author's real text, what comes before it the prompt.
    pub heldout: PathBuf,
    /// The training file, to find copied passages and repeated openings/closings.
    #[arg(long)]
    pub train: Option<PathBuf>,
    /// Use only the first N held-out examples.
    #[arg(long)]
    pub prompts: Option<usize>,
    #[arg(long, default_value_t = 299792458)]
    pub seed: u64,
    #[arg(long, default_value_t = 200)]
    pub max_tokens: usize,
    /// 0 for greedy decoding.
    #[arg(long, default_value_t = 0.7)]
    pub temperature: f32,
    /// Most frequent words of the stylometric distance.
    #[arg(long, default_value_t = voicetune::compare::stylometry::DEFAULT_MFW)]
    pub mfw: usize,
    /// The HTML report (the markdown twin and the JSON go beside it).
    #[arg(short, long, default_value = "compare-report.html")]
    pub output: PathBuf,
}

pub(crate) fn run(args: &CompareArgs) -> Result<()> {
    let workspace = std::env::current_dir().context("cannot read the current folder")?;
    let mut request = CompareRequest::new(
        workspace,
        args.voices.clone(),
        args.heldout.clone(),
        args.output.clone(),
    );
    request.train = args.train.clone();
    request.prompts = args.prompts;
    request.mfw = args.mfw;
    request.sampling.seed = args.seed;
    request.sampling.max_tokens = args.max_tokens;
    request.sampling.temperature = args.temperature;
    let cancel = AtomicBool::new(false);
    let mut stderr = std::io::stderr();
    let report = compare(&request, &cancel, &mut |step| {
        let _ = write!(stderr, "\r\x1b[K[{:>3}%] {}", step.percent, step.message);
        let _ = stderr.flush();
    })?;
    eprintln!("\r\x1b[K");
    print!("{}", report::summary(&report));
    println!(
        "\nreport: {} (also {} and {})",
        request.output.display(),
        request.markdown_path().display(),
        request.json_path().display()
    );
    Ok(())
}
