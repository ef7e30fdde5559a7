//! `completion bash|zsh|fish`: shell completion scripts.

use crate::cli::Cli;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

/// `completion SHELL`.
#[derive(Args)]
pub struct CompletionArgs {
    /// The shell: bash, zsh or fish.
    #[arg(value_parser = ["bash", "zsh", "fish"])]
    shell: String,
}

/// Prints the completion script to stdout.
pub fn completion(args: CompletionArgs) -> anyhow::Result<i32> {
    let shell = match args.shell.as_str() {
        "zsh" => Shell::Zsh,
        "fish" => Shell::Fish,
        _ => Shell::Bash,
    };
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "berthctl", &mut std::io::stdout());
    Ok(0)
}
