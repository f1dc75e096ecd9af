//! The `voicetune` command line: a thin face over the library, all of it in [`cli`].

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
