//! `berth-bundle DIR CGROUPS_PATH [ARG...]`: writes the test suite's busybox bundle (rootfs and
//! default `config.json`, running ARGs, `sh` by default) to DIR, for the benchmark and for
//! trying a runtime by hand.

use std::path::PathBuf;
use std::process::ExitCode;

use berth_tests::{Bundle, FixtureError};

fn usage() -> ExitCode {
    eprintln!("usage: berth-bundle DIR CGROUPS_PATH [ARG...]");
    ExitCode::from(2)
}

fn write_bundle(dir: PathBuf, cgroups_path: &str, args: &[String]) -> Result<(), FixtureError> {
    let id = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut bundle = Bundle::create(&dir, &id, cgroups_path)?;
    if !args.is_empty() {
        bundle.args(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }
    bundle.write()
}

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let (Some(dir), Some(cgroups_path)) = (argv.next(), argv.next()) else {
        return usage();
    };
    let args: Vec<String> = argv.collect();
    match write_bundle(PathBuf::from(dir), &cgroups_path, &args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth-bundle: {e}");
            ExitCode::FAILURE
        }
    }
}
