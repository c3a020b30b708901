//! `k8s-adapter`: one binary for the controller, the speaker, and two offline helpers
//! (`crds` prints our CustomResourceDefinitions, `migrate` converts MetalLB's legacy
//! ConfigMap into our CRDs).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use k8s_adapter::config::legacy::{self, LegacyConfig};
use k8s_adapter::config::{build, crd};

#[derive(Debug, Parser)]
#[command(name = "k8s-adapter", version, about = "ironlb's Kubernetes LoadBalancer adapter")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Allocate LoadBalancer addresses and write Service status (one active replica).
    Controller,
    /// Announce this node's Service addresses through the local bgpd (one per node).
    Speaker,
    /// Print the ironlb.io CustomResourceDefinitions as multi-document YAML.
    Crds,
    /// Convert a MetalLB legacy ConfigMap (or its bare `config` document) into ironlb CRDs.
    Migrate {
        /// File to read; `-` or absent reads standard input.
        #[arg(long, short)]
        file: Option<PathBuf>,
        /// ConfigMap data key holding the document.
        #[arg(long, default_value = legacy::DEFAULT_KEY)]
        key: String,
        /// Namespace of the objects printed.
        #[arg(long, default_value = "ironlb-system")]
        namespace: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Controller | Command::Speaker => {
            eprintln!("k8s-adapter: {:?} is not implemented yet", cli.command);
            return ExitCode::from(2);
        }
        Command::Crds => crds(),
        Command::Migrate { file, key, namespace } => migrate(file, &key, &namespace),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("k8s-adapter: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn crds() -> anyhow::Result<ExitCode> {
    let mut out = String::new();
    for definition in crd::definitions() {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&definition).context("serializing a CRD")?);
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// Prints every object converted; reports conversion and validation problems on standard
/// error and exits 1 when there are any, so scripts notice.
fn migrate(file: Option<PathBuf>, key: &str, namespace: &str) -> anyhow::Result<ExitCode> {
    let text = match file.as_deref() {
        None => read_stdin()?,
        Some(p) if p.as_os_str() == "-" => read_stdin()?,
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
    };
    let (config, source) = LegacyConfig::parse_file(&text, key)?;
    let (resources, mut errors) = config.to_resources(namespace, &source);
    let built = build(&resources);
    errors.extend(built.errors);
    print!("{}", legacy::to_yaml(&resources).context("serializing the objects")?);
    for w in &built.warnings {
        eprintln!("warning: {w}");
    }
    for e in &errors {
        eprintln!("error: {e}");
    }
    Ok(if errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("reading standard input")?;
    Ok(text)
}
