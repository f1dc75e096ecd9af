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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("voicetune {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
    }
}
