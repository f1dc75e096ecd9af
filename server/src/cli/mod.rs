//! The command line: the parser, one file per subcommand, and the only place that prints to the
//! terminal. Each subcommand calls the library's typed entry points and turns their results
//! into text and an exit code.

mod build;
mod compare;
mod complete;
mod config;
mod convert;
mod eval;
mod generate;
mod jobs;
mod learn;
mod lint;
mod lsp;
mod model;
mod remote;
mod rule;
mod stats;
mod train;
mod tune;

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use voicetune::lint::report::escape_controls_by_line;

#[derive(Parser)]
#[command(
    name = "voicetune",
    version,
    about = "Teach a language model to write in your voice"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Lint JSONL training files and markdown drafts (files or folders).
    Lint(lint::LintArgs),
    /// Explain a rule (`voicetune rule html`), or list them all (`voicetune rule --list`).
    Rule(rule::RuleArgs),
    /// Token distribution, billed tokens, epochs and cost of a training file.
    Stats(stats::StatsArgs),
    /// Convert ShareGPT, Alpaca, question/answer or chosen/rejected records (JSONL or a .json
    /// array) to OpenAI chat or preference JSONL.
    Convert(convert::ConvertArgs),
    /// Build a training file from WordPress exports, markdown posts or transcripts.
    Build(Box<build::BuildArgs>),
    /// Manage the local base model (`voicetune model pull`).
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Complete a prompt with the local base model or a local voice model.
    Generate(generate::GenerateArgs),
    /// Ghostwrite: the suggestion an editor would show at FILE:LINE:COL.
    Complete(complete::CompleteArgs),
    /// Turn the suggestions accepted in the editor (`[completion] learn = true`) into a chat
    /// JSONL of your own final words.
    Learn(learn::LearnArgs),
    /// Fine-tune a local voice model (LoRA) on a chat JSONL dataset.
    Train(train::TrainArgs),
    /// Perplexity of held-out texts under the base model and a voice model.
    Eval(eval::EvalArgs),
    /// Bake-off: which voice writes most like the author, with numbers (an HTML report).
    Compare(compare::CompareArgs),
    /// Fine-tune a model on the OpenAI API (lint, estimate, confirm, upload, train, follow).
    Tune(tune::TuneArgs),
    /// List, follow, cancel fine-tuning jobs, or print their events.
    Jobs(jobs::JobsArgs),
    /// Run the language server over stdio (for editors).
    Lsp,
}

/// Parses the command line and runs the subcommand. Exit status 2 for errors, unless the
/// subcommand says otherwise.
pub fn main() -> ExitCode {
    voicetune::model::settle_thread_count();
    let cli = Cli::parse();
    if matches!(cli.command, Command::Train(_) | Command::Eval(_)) {
        voicetune::model::prefer_f32_matmul_threads();
    }
    if !matches!(cli.command, Command::Train(_)) {
        remove_temp_files_on_signal();
    }
    let result = match cli.command {
        Command::Lint(args) => lint::run(args),
        Command::Rule(args) => rule::run(&args),
        Command::Stats(args) => stats::run(args),
        Command::Convert(args) => convert::run(&args),
        Command::Build(args) => build::run(*args),
        Command::Model(cmd) => model::run(&cmd).map(|()| ExitCode::SUCCESS),
        Command::Generate(args) => generate::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Complete(args) => complete::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Learn(args) => learn::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Eval(args) => eval::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Compare(args) => compare::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Tune(args) => Ok(tune::run(args)),
        Command::Jobs(args) => Ok(jobs::run(args)),
        Command::Lsp => lsp::run().map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        // The reader of our output went away (`voicetune lint ... | head`): no message, and the
        // status of a process ended by SIGPIPE, as `yes | head` gives.
        Err(err) if is_broken_pipe(&err) => ExitCode::from(141),
        Err(err) => {
            eprintln!("error: {}", escape_controls_by_line(&format!("{err:#}")));
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// SIGINT, SIGTERM, SIGHUP: remove the temp files of writes in flight, then exit with status 130
/// (no half-written `.NAME.voicetune-tmp-PID` is left beside an output, also when an editor stops
/// the language server during a build or a fix). `train` has its own handler (stop at a
/// checkpoint) that does the same on its way out.
fn remove_temp_files_on_signal() {
    // Only fails when a handler is already set, and then that handler is the one that counts.
    let _ = ctrlc::set_handler(|| {
        voicetune::fsutil::remove_live_temp_files();
        std::process::exit(130);
    });
}
