//! FRR's BFD: `zebra` and `bfdd` beside `bgpd` (bgpd reaches bfdd only through
//! zebra), bfdd's `ironlb` profile, and bfdd's own vty.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::Frr;
use crate::netns::{Namespace, Process};
use crate::{HarnessError, Result, TempDir, require_program, wait_until};

const FRR_ZEBRA: &str = "/usr/lib/frr/zebra";
const FRR_BFDD: &str = "/usr/lib/frr/bfdd";

/// bfdd's profile `ironlb`, used by every neighbour (`neighbor X bfd profile ironlb`).
#[derive(Debug, Clone, Copy)]
pub struct FrrBfd {
    /// `receive-interval`, ms.
    pub receive_interval: u32,
    /// `transmit-interval`, ms.
    pub transmit_interval: u32,
    pub detect_multiplier: u8,
}

impl FrrBfd {
    /// bfdd's config: the profile.
    pub fn render(&self, log: &std::path::Path) -> String {
        format!(
            "log file {} debugging\nbfd\n profile ironlb\n  receive-interval {}\n  \
             transmit-interval {}\n  detect-multiplier {}\n exit\nexit\n",
            log.display(),
            self.receive_interval,
            self.transmit_interval,
            self.detect_multiplier
        )
    }
}

/// Starts zebra (its API socket at `zserv`) and bfdd for `bfd`, both as
/// `frr`, in `dir`; returns them (zebra first, bfdd second).
pub(super) fn start_helpers(
    namespace: &Namespace,
    dir: &TempDir,
    zserv: &Path,
    bfd: &FrrBfd,
) -> Result<Vec<Process>> {
    let path = |p: PathBuf| p.display().to_string();
    let mut helpers = Vec::new();
    // zebra and bfdd have no -S: they run as `frr` (in `frrvty`, which
    // root is not), so the directory must be theirs to write in too.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).map_err(
        |source| HarnessError::Io { command: "chmod the FRR directory".to_owned(), source },
    )?;
    let common = |name: &str, config: PathBuf| {
        vec![
            "-z".to_owned(),
            path(zserv.to_path_buf()),
            "-u".to_owned(),
            "frr".to_owned(),
            "-g".to_owned(),
            "frr".to_owned(),
            "-f".to_owned(),
            path(config),
            "-i".to_owned(),
            path(dir.join(&format!("{name}.pid"))),
            "--vty_socket".to_owned(),
            dir.path().display().to_string(),
            "-P".to_owned(),
            "0".to_owned(),
        ]
    };
    helpers.push(start_zebra(namespace, dir, zserv, "")?);
    let bfdd = require_program(FRR_BFDD, "frr")?;
    let bfdd_conf = dir.write("bfdd.conf", &bfd.render(&dir.join("bfdd.log")))?;
    let mut args = common("bfdd", bfdd_conf);
    // bfdd's vty in a directory of its own: `vtysh` talks to every daemon
    // in its directory, and a frozen bfdd (`freeze_bfdd`) must not block
    // the BGP queries.
    let bfdd_vty = dir.join("bfdd");
    std::fs::create_dir_all(&bfdd_vty)
        .and_then(|()| std::fs::set_permissions(&bfdd_vty, std::fs::Permissions::from_mode(0o777)))
        .map_err(|source| HarnessError::Io {
            command: "create bfdd's vty directory".to_owned(),
            source,
        })?;
    if let Some(at) = args.iter().position(|a| a == "--vty_socket") {
        args[at + 1] = path(bfdd_vty);
    }
    args.push("--bfdctl".to_owned());
    args.push(path(dir.join("bfdd.sock")));
    helpers.push(namespace.spawn("frr-bfdd", &bfdd, &args, &dir.join("bfdd.out"))?);
    Ok(helpers)
}

/// Starts zebra alone (its API socket at `zserv`) as `frr` in `dir`, with
/// `extra` appended to its config; returns once the socket exists.
pub(super) fn start_zebra(
    namespace: &Namespace,
    dir: &TempDir,
    zserv: &Path,
    extra: &str,
) -> Result<Process> {
    let path = |p: PathBuf| p.display().to_string();
    // zebra has no -S: it runs as `frr`, so the directory must be its too.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).map_err(
        |source| HarnessError::Io { command: "chmod the FRR directory".to_owned(), source },
    )?;
    let zebra = require_program(FRR_ZEBRA, "frr")?;
    let zebra_conf = dir.write(
        "zebra.conf",
        &format!("log file {} debugging\n{extra}", dir.join("zebra.log").display()),
    )?;
    let args = vec![
        "-z".to_owned(),
        path(zserv.to_path_buf()),
        "-u".to_owned(),
        "frr".to_owned(),
        "-g".to_owned(),
        "frr".to_owned(),
        "-f".to_owned(),
        path(zebra_conf),
        "-i".to_owned(),
        path(dir.join("zebra.pid")),
        "--vty_socket".to_owned(),
        dir.path().display().to_string(),
        "-P".to_owned(),
        "0".to_owned(),
    ];
    let process = namespace.spawn("frr-zebra", &zebra, &args, &dir.join("zebra.out"))?;
    wait_until(
        "FRR's zebra socket",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || zserv.exists().then_some(()),
        String::new,
    )?;
    Ok(process)
}

impl Frr {
    /// `vtysh` against bfdd alone (with [`FrrConfig::bfd`]), e.g. `show bfd peers json`.
    pub fn bfd_vtysh(&self, commands: &[&str]) -> Result<String> {
        self.vtysh_at(self.dir.join("bfdd").display().to_string(), commands)
    }

    /// SIGSTOP of bfdd alone (with [`FrrConfig::bfd`]): FRR's BFD goes silent, its BGP
    /// keeps running.
    pub fn freeze_bfdd(&self) {
        if let Some(bfdd) = self.helpers.get(1) {
            bfdd.freeze();
        }
    }

    pub fn thaw_bfdd(&self) {
        if let Some(bfdd) = self.helpers.get(1) {
            bfdd.thaw();
        }
    }

    /// bfdd's log (with [`FrrConfig::bfd`]).
    pub fn bfd_log_tail(&self, lines: usize) -> String {
        crate::tail(&self.dir.join("bfdd.log"), lines)
    }

    /// `show bfd peers json` (with [`FrrConfig::bfd`]): bfdd's sessions.
    pub fn bfd_peers(&self) -> Result<Value> {
        let command = "show bfd peers json";
        let text = self.bfd_vtysh(&[command])?;
        serde_json::from_str(&text).map_err(|e| HarnessError::Parse {
            command: command.to_owned(),
            reason: e.to_string(),
            output: text.chars().take(2000).collect(),
        })
    }
}
