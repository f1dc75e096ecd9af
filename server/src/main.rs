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
    /// Fine-tune a model on the OpenAI API (lint, estimate, confirm, upload, train, follow).
    Tune(voicetune::train::remote::cli::TuneArgs),
    /// List, follow, cancel fine-tuning jobs, or print their events.
    Jobs(voicetune::train::remote::cli::JobsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("voicetune {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Tune(args) => voicetune::train::remote::cli::run_tune(args),
        Command::Jobs(args) => voicetune::train::remote::cli::run_jobs(args),
    }
}
