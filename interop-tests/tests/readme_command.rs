//! The README's main command, run exactly as printed (issue #13): a README whose first command
//! fails must fail CI, as `cargo run -p bgpd` did while the package had two binaries and no
//! `default-run`.
//!
//! The test reads README.md, takes the first `cargo run` command of the "Set-up" section's
//! first ```sh block and runs it with `sh -c` from the workspace root, so `cargo run --release`
//! builds and starts bgpd with the shipped config (`conf/bgpd.toml`: loopback only, BGP port 179,
//! the API at 127.0.0.1:50051). Then, each step polled against a deadline:
//!
//! 1. the API answers `bgpctl status` (the bgpctl of this workspace's `target/`);
//! 2. SIGTERM goes to the bgpd process, found among the shell's descendants in /proc (on Unix
//!    `cargo run` execs the program, so bgpd is the shell's child where cargo was; a cargo that
//!    spawned it instead would leave it one level lower, which the search covers too);
//! 3. the command exits 0 (bgpd's exit status, which the shell passes on) within [`STOP`].
//!
//! The command runs in its own process group, killed on every way out of the test, so a failure
//! leaves no bgpd behind. This file is its own test binary, so no other test of the harness uses
//! the root namespace's port 179 or API port at the same time. It needs root (port 179 and the
//! layer2 sockets of the shipped config), as the other interop tests do.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use interop_tests::{Check, TempDir, tail, wait_until};

/// Building bgpd in release mode from cold on a 2-core machine, then starting it.
const BUILD_AND_START: Duration = Duration::from_secs(30 * 60);
/// From SIGTERM to the exit: a Cease to each peer and the state file written.
const STOP: Duration = Duration::from_secs(20);
/// The config the command runs with when it names none (bgpd has no default path).
const DEFAULT_CONFIG: &str = "conf/bgpd.toml";
/// bgpd's API address when the config has no `[api] listen`.
const DEFAULT_API: &str = "127.0.0.1:50051";

/// Why the README has no command to run.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
enum Missing {
    #[error("README.md has no heading containing \"Set-up\"")]
    SetUpSection,
    #[error("README.md's \"Set-up\" section has no ```sh block")]
    ShellBlock,
    #[error("the first ```sh block of README.md's \"Set-up\" section has no `cargo run` command")]
    CargoRun,
}

/// The first command starting with `cargo run` in the first ```sh block of the section whose
/// heading contains "Set-up" (lines ending in `\` joined with the next).
fn set_up_command(readme: &str) -> Result<String, Missing> {
    let mut lines = readme.lines();
    let mut fenced = false;
    let mut section_level = None;
    // Find the heading (outside code blocks, where `#` starts a shell comment).
    for line in lines.by_ref() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced
            && let Some(level) = heading_level(line)
            && line.contains("Set-up")
        {
            section_level = Some(level);
            break;
        }
    }
    let section_level = section_level.ok_or(Missing::SetUpSection)?;
    // Its first ```sh block, before the next heading of the same or a higher level.
    let mut block = None;
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            if matches!(trimmed.trim_start_matches('`').trim(), "sh" | "bash" | "shell") {
                block = Some(());
                break;
            }
            // Another language's block: skip it whole.
            for inner in lines.by_ref() {
                if inner.trim().starts_with("```") {
                    break;
                }
            }
        } else if heading_level(line).is_some_and(|level| level <= section_level) {
            break;
        }
    }
    block.ok_or(Missing::ShellBlock)?;
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in lines {
        if line.trim().starts_with("```") {
            break;
        }
        let line = line.trim();
        match line.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head.trim_end());
                current.push(' ');
            }
            None => {
                current.push_str(line);
                commands.push(std::mem::take(&mut current));
            }
        }
    }
    commands
        .into_iter()
        .map(|command| command.trim().to_owned())
        .find(|command| command.starts_with("cargo run"))
        .ok_or(Missing::CargoRun)
}

/// `Some(n)` for a Markdown ATX heading of level n.
fn heading_level(line: &str) -> Option<usize> {
    let level = line.chars().take_while(|c| *c == '#').count();
    (level > 0 && line[level..].starts_with(' ')).then_some(level)
}

/// The value of the command's `--config` (or `--config=`), if it has one.
fn config_argument(command: &str) -> Option<String> {
    let mut words = command.split_whitespace();
    while let Some(word) = words.next() {
        if word == "--config" {
            return words.next().map(str::to_owned);
        }
        if let Some(value) = word.strip_prefix("--config=") {
            return Some(value.to_owned());
        }
    }
    None
}

/// `[api] listen` of a bgpd config, or bgpd's default.
fn api_address(config: &str) -> String {
    let value: toml::Table = config.parse().expect("the README's config is valid TOML");
    value
        .get("api")
        .and_then(|api| api.get("listen"))
        .and_then(toml::Value::as_str)
        .unwrap_or(DEFAULT_API)
        .to_owned()
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("interop-tests is in the workspace")
        .into()
}

/// `$IRONLB_BGPCTL`, else this workspace's `target/debug/bgpctl` or `target/release/bgpctl`
/// (`cargo build --workspace --bins`, which `run-all.sh` runs first, builds the former).
fn bgpctl() -> PathBuf {
    if let Some(path) = std::env::var_os("IRONLB_BGPCTL") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let searched = [target.join("debug/bgpctl"), target.join("release/bgpctl")];
    searched.iter().find(|path| path.is_file()).cloned().unwrap_or_else(|| {
        panic!("bgpctl not found at {searched:?}: run `cargo build -p bgpd --bins` or set IRONLB_BGPCTL")
    })
}

/// The command started by `sh -c` in a process group of its own, killed with the whole group
/// when dropped (on success there is nothing left to kill).
struct Running {
    child: Child,
    log: PathBuf,
}

impl Running {
    fn start(command: &str, dir: &Path, log: PathBuf) -> Self {
        let file = std::fs::File::create(&log).expect("create the command's log");
        let child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone the log's handle"))
            .stderr(file)
            .process_group(0)
            .spawn()
            .expect("start sh");
        Running { child, log }
    }

    /// `Some(status)` once the command has ended.
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("wait for the command")
    }

    fn log_tail(&self) -> String {
        log_tail(&self.log)
    }
}

fn log_tail(log: &Path) -> String {
    format!("--- output of the command ({}) ---\n{}", log.display(), tail(log, 40))
}

impl Drop for Running {
    fn drop(&mut self) {
        // The group's id is the shell's PID (process_group(0)); bgpd, a child of cargo, is in it
        // even after the shell has been reaped.
        let group = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on a process group this test created.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// The parent PID of `pid`, from /proc/PID/stat (the field after the parenthesised name).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// `root` and every process below it.
fn descendants(root: u32) -> Vec<u32> {
    let processes: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter_map(|pid| Some((pid, parent_of(pid)?)))
                .collect()
        })
        .unwrap_or_default();
    let mut found = vec![root];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        found.extend(processes.iter().filter(|(_, ppid)| *ppid == parent).map(|(pid, _)| *pid));
        index += 1;
    }
    found
}

/// The bgpd process started by the command: cargo's PID once cargo has exec'd it (or the
/// shell's own, had the shell exec'd cargo).
fn bgpd_below(root: u32) -> Option<u32> {
    descendants(root).into_iter().find(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|name| name.trim() == "bgpd")
    })
}

fn status_answers(bgpctl: &Path, api: &str) -> bool {
    Command::new(bgpctl)
        .args(["--api", api, "--timeout", "2", "status"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[test]
fn the_readme_main_command_runs_as_printed() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("read README.md");
    let command = set_up_command(&readme).unwrap_or_else(|error| panic!("{error}"));
    let config_path = config_argument(&command).unwrap_or_else(|| DEFAULT_CONFIG.to_owned());
    let config = std::fs::read_to_string(root.join(&config_path))
        .unwrap_or_else(|error| panic!("read {config_path}, the README command's config: {error}"));
    let api = api_address(&config);
    let bgpctl = bgpctl();
    assert!(
        !status_answers(&bgpctl, &api),
        "a bgpd already answers at {api}: stop it, the README's command needs its ports"
    );

    let dir = TempDir::new("readme").check("scratch directory");
    eprintln!("running the README's command from {}: {command}", root.display());
    let log = dir.join("command.log");
    let mut running = Running::start(&command, &root, log.clone());

    // 1. Built, started, and the API answers.
    let mut ended = None;
    wait_until(
        &format!("`{command}` to build and start bgpd, and `bgpctl status` to answer at {api}"),
        BUILD_AND_START,
        Duration::from_millis(500),
        || {
            ended = running.exited();
            (ended.is_some() || status_answers(&bgpctl, &api)).then_some(())
        },
        || log_tail(&log),
    )
    .check("the README's command");
    if let Some(status) = ended {
        panic!("`{command}` ended ({status}) before its API answered\n{}", running.log_tail());
    }

    // 2. SIGTERM to bgpd.
    let shell = running.child.id();
    let bgpd = bgpd_below(shell).unwrap_or_else(|| {
        panic!(
            "no bgpd process below the command's shell (pid {shell}), yet {api} answered\n{}",
            running.log_tail()
        )
    });
    // SAFETY: kill(2) on the bgpd this test started, found below its own child.
    let sent = unsafe { libc::kill(bgpd as libc::pid_t, libc::SIGTERM) };
    assert_eq!(sent, 0, "SIGTERM to bgpd (pid {bgpd}): {}", std::io::Error::last_os_error());

    // 3. bgpd exits 0 and so does the command.
    let status = wait_until(
        &format!("bgpd (pid {bgpd}) to exit after SIGTERM"),
        STOP,
        Duration::from_millis(100),
        || running.exited(),
        || log_tail(&log),
    )
    .check("the README's command stops on SIGTERM");
    assert!(
        status.success(),
        "`{command}` ended with {status} after SIGTERM\n{}",
        running.log_tail()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = "\
# ironlb

```sh
cargo run -p early
```

## Set-up on a fresh machine

Some text.

```toml
cargo run = 1
```

```sh
# a comment
cargo build \\
  --release
cargo run --release -p bgpd \\
  -- --config conf/other.toml
cargo run -p second
```

## Next

```sh
cargo run -p later
```
";

    #[test]
    fn the_first_cargo_run_of_the_set_up_sections_first_shell_block_is_taken() {
        let command = set_up_command(README).expect("a command");
        assert_eq!(command, "cargo run --release -p bgpd -- --config conf/other.toml");
        assert_eq!(config_argument(&command).as_deref(), Some("conf/other.toml"));
        assert_eq!(config_argument("cargo run -- --config=x.toml").as_deref(), Some("x.toml"));
        assert_eq!(config_argument("cargo run"), None);
    }

    #[test]
    fn a_readme_without_the_command_says_what_is_missing() {
        assert_eq!(set_up_command("# x\n\n```sh\ncargo run\n```\n"), Err(Missing::SetUpSection));
        assert_eq!(
            set_up_command("## Set-up\n\ntext\n\n## Other\n\n```sh\ncargo run\n```\n"),
            Err(Missing::ShellBlock)
        );
        assert_eq!(
            set_up_command("## Set-up\n\n```sh\ncargo build\n```\n\n```sh\ncargo run\n```\n"),
            Err(Missing::CargoRun)
        );
        assert_eq!(
            set_up_command("```sh\n## Set-up in a comment\ncargo run\n```\n"),
            Err(Missing::SetUpSection)
        );
    }

    #[test]
    fn the_api_address_comes_from_the_config_or_the_default() {
        assert_eq!(api_address("[api]\nlisten = \"127.0.0.1:6000\"\n"), "127.0.0.1:6000");
        assert_eq!(api_address("[global]\nasn = 1\n"), DEFAULT_API);
    }

    #[test]
    fn the_shipped_readme_has_a_command_with_a_config() {
        let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README");
        let command = set_up_command(&readme).expect("the README's set-up command");
        assert!(command.starts_with("cargo run"), "{command}");
    }
}
