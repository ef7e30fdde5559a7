//! berthctl: Berth's command line, with Docker's commands, flags and output.

mod cli;
mod client;
mod commands;
mod credentials;
mod docker;
mod error;
mod output;
mod parse;
mod session;

use clap::Parser;
use cli::Cli;
use client::{Clients, TlsFiles};
use error::{describe, EXIT_FAILURE};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() { EXIT_FAILURE } else { 0 };
            // clap prints help and version itself; usage errors exit 125 as Docker's do.
            let _ = error.print();
            std::process::exit(code);
        }
    };
    let host = cli.host.clone();
    let code = match run(cli) {
        Ok(code) => code,
        Err(error) => {
            let (code, message) = describe(&error, &host);
            if !message.is_empty() {
                eprintln!("Error: {message}");
            }
            code
        }
    };
    // Exiting here (not returning) also ends a stdin reader thread still blocked in read().
    std::process::exit(code);
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let tls = TlsFiles {
            ca: cli.tls_ca.clone(),
            cert: cli.tls_cert.clone(),
            key: cli.tls_key.clone(),
        };
        let clients = Clients::connect(&cli.host, &tls)?;
        commands::dispatch(cli.command, &clients, &cli.host).await
    })
}
