//! The soak of issue #17 (see `interop_tests::soak`): bgpd with FRR and BIRD peers under
//! churn, misbehaving API clients and an impaired link, for `--minutes N` (default 30).
//!
//! Run as root (network namespaces), usually through `interop-tests/soak.sh`:
//! `soak [--minutes N] [--warmup-minutes N] [--rate N] [--bgpd PATH] [--csv FILE] [--netem]
//!  [--max-rss-mib-per-minute X] [--max-fds-per-minute X]`. Exit status 1 when it failed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use interop_tests::impair::Mode;
use interop_tests::soak::{Options, run};

fn options() -> Result<Options, String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let minutes = match args.iter().position(|a| a == "--minutes") {
        Some(at) => {
            let value = args.get(at + 1).ok_or("--minutes needs a value")?.clone();
            args.drain(at..at + 2);
            value.parse::<u64>().map_err(|e| format!("--minutes {value}: {e}"))?
        }
        None => 30,
    };
    let mut options = Options::full(minutes);
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "--netem" {
            options.mode = Mode::Netem;
            continue;
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<f64>().map_err(|e| format!("{flag} {value}: {e}"));
        match flag.as_str() {
            "--warmup-minutes" => options.warmup = Duration::from_secs_f64(number()? * 60.0),
            "--rate" => options.rate = number()? as u32,
            "--bgpd" => options.binary = Some(PathBuf::from(&value)),
            "--csv" => options.csv = PathBuf::from(&value),
            "--max-rss-mib-per-minute" => options.max_rss_mib_per_minute = number()?,
            "--max-fds-per-minute" => options.max_fds_per_minute = number()?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("soak: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(report) => {
            println!("{report}");
            if report.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(error) => {
            eprintln!("soak: {error}");
            ExitCode::FAILURE
        }
    }
}
