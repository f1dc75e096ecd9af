//! The `voicetune` command line: a thin face over the library.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

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
    /// Print the version.
    Version,
    /// Manage the local base model.
    #[command(subcommand)]
    Model(voicetune::model::cli::ModelCommand),
    /// Complete a prompt with the local base model or a local voice model.
    Generate(voicetune::infer::local::GenerateArgs),
    /// Fine-tune a local voice model (LoRA) on a chat JSONL dataset.
    Train(voicetune::train::local::cli::TrainArgs),
    /// Perplexity of held-out texts under the base model and a voice model.
    Eval(voicetune::train::local::eval::EvalArgs),
}

/// Prints an error the way every subcommand does and returns a failing exit code.
fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("voicetune {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Model(cmd) => report(voicetune::model::cli::run(&cmd)),
        Command::Generate(args) => report(voicetune::infer::local::cli_generate(&args)),
        Command::Train(args) => report(voicetune::train::local::cli::run(&args)),
        Command::Eval(args) => report(voicetune::train::local::eval::cli_eval(&args)),
    }
}
