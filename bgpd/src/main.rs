//! `bgpd`: run the speaker with a TOML config, or check a config.

// No `unwrap` or `expect` outside tests (clippy runs with `-D warnings`; `unwrap_used` is set
// for the workspace, `expect_used` here; clippy.toml lets tests use both).
#![warn(clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bgpd::config::LogFormat;
use clap::Parser;
use tracing_subscriber::EnvFilter;

#[derive(Parser, Debug)]
#[command(name = "bgpd", version, about = "ironlb's BGP-4 speaker")]
struct Args {
    /// The TOML configuration to run with.
    #[arg(long, short = 'c', value_name = "FILE", default_value = "/etc/ironlb/bgpd.toml")]
    config: PathBuf,

    /// Validate FILE, print every error with its line and column, and exit
    /// (0 when valid) without starting the daemon.
    #[arg(long, value_name = "FILE")]
    check_config: Option<PathBuf>,

    /// Log level (error, warn, info, debug, trace) or a full tracing filter.
    /// `RUST_LOG`, when set, takes precedence; without either, the config's
    /// `global.log_level` applies.
    #[arg(long)]
    log_level: Option<String>,

    /// Log line format: "text" (for people) or "json" (one object per line,
    /// the same fields, for log pipelines). Overrides `global.log_format`.
    #[arg(long, value_name = "FORMAT", value_parser = parse_log_format)]
    log_format: Option<LogFormat>,
}

/// A `--log-format` that is neither `text` nor `json`.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is neither \"text\" nor \"json\"")]
struct UnknownLogFormat(String);

fn parse_log_format(text: &str) -> Result<LogFormat, UnknownLogFormat> {
    LogFormat::from_name(text).ok_or_else(|| UnknownLogFormat(text.to_string()))
}

/// A line on standard error, ignoring a failure (`eprintln!` panics on one, which would turn
/// a clean exit status into 101 on a full disk).
fn to_stderr(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(path) = &args.check_config {
        let report = bgpd::config::check_file(path);
        if report.is_ok() {
            let _ = writeln!(std::io::stdout(), "{report}");
            return ExitCode::SUCCESS;
        }
        to_stderr(format_args!("{report}"));
        return ExitCode::FAILURE;
    }

    let config = match bgpd::config::Config::load(&args.config) {
        Ok(config) => config,
        Err(errors) => {
            to_stderr(format_args!("{errors}"));
            return ExitCode::FAILURE;
        }
    };

    let level = args.log_level.clone().unwrap_or_else(|| config.global.log_level.to_string());
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: a log written to a file or a pipe gets no
    // ANSI escape codes. The fmt writer is standard output.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    // A log that cannot be written (full disk) is counted, never a panic: see `logging`.
    let format = args.log_format.unwrap_or(config.global.log_format);
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(bgpd::logging::LogOutput::new(format))
        .log_internal_errors(false);
    match format {
        LogFormat::Text => subscriber.init(),
        // Fields at the top level beside "message", as the text form shows
        // them after it; no span list (the text form shows none either).
        LogFormat::Json => subscriber.json().flatten_event(true).with_span_list(false).init(),
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            to_stderr(format_args!("bgpd: cannot start the async runtime: {error}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bgpd::daemon::run(config, args.config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            to_stderr(format_args!("bgpd: {error}"));
            ExitCode::FAILURE
        }
    }
}
