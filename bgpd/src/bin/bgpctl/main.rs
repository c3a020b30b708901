//! `bgpctl`: the operator's command line for a running bgpd, over its gRPC
//! API (`ironlb.bgpd.v1.BgpService` and `Layer2Service`). Tables for people, `-o json` for
//! scripts (the proto3 JSON mapping, as grpcurl prints it), one line on
//! stderr and a distinct exit code for every kind of failure (see
//! [`cli::EXIT_CODES`]).
//!
//! One concern per module: [`cli`] the command line, [`connect`] reaching
//! bgpd, [`output`] tables and JSON, [`human`] short forms of values,
//! [`aspath`] AS path text, and one module per command group.
//!
//! Dependencies point one way: `main` -> the command modules ([`status`],
//! [`neighbor`], [`route`], [`owner`], [`layer2`], [`watch`]) -> [`output`],
//! [`human`], [`connect`], [`error`]. [`cli`] only defines the clap types
//! (and parses their values), so any module may name them and it names none
//! of the others but [`aspath`]'s argument type.

// No `unwrap` or `expect` outside tests (clippy runs with `-D warnings`; `unwrap_used` is set
// for the workspace, `expect_used` here; clippy.toml lets tests use both).
#![warn(clippy::expect_used)]

mod aspath;
mod bfd;
mod cli;
mod connect;
mod error;
mod human;
mod layer2;
mod neighbor;
mod neighbor_detail;
mod output;
mod owner;
mod policy;
mod route;
mod status;
mod watch;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{BfdCommand, Cli, Command, OwnerCommand, PolicyCommand};
use crate::connect::Target;
use crate::error::CtlError;
use crate::output::Output;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to stdout with 0; mistakes to stderr with 2.
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(error::EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let mut out = Output::new(cli.output);
    let result = run(cli, &mut out).and_then(|()| out.flush());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is_broken_pipe() => ExitCode::SUCCESS,
        Err(error) => {
            // Whatever was printed before the failure (a batch's results)
            // still reaches stdout; a second failure to write has nowhere
            // to be reported.
            let _ = out.flush();
            let _ = writeln!(std::io::stderr(), "bgpctl: {error}");
            error.exit_code()
        }
    }
}

fn run(cli: Cli, out: &mut Output) -> Result<(), CtlError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CtlError::Runtime)?;
    runtime.block_on(async {
        let target = Target { api: cli.api, timeout: cli.timeout };
        let mut api = connect::connect(target).await?;
        match cli.command {
            Command::Status => status::run(&mut api, out).await,
            Command::Neighbor(command) => neighbor::run(command, &mut api, out).await,
            Command::Route(command) => route::run(command, &mut api, out).await,
            Command::Owner(OwnerCommand::List) => owner::list(&mut api, out).await,
            Command::Layer2(command) => layer2::run(command, &mut api, out).await,
            Command::Bfd(BfdCommand::List) => bfd::list(&mut api, out).await,
            Command::Policy(PolicyCommand::List) => policy::list(&mut api, out).await,
            Command::Watch(args) => watch::run(&mut api, out, args).await,
        }
    })
}
