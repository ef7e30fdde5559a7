//! berthd's entry point.

use anyhow::Context as _;
use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = berthd::config::Args::parse();
    let config = berthd::config::Config::load(args)?;
    berthd::logging::init(&config.log_level, config.log_format).map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let shutdown =
            berthd::daemon::termination_signal().context("installing signal handlers")?;
        berthd::daemon::run(config, shutdown).await?;
        Ok(())
    })
}
