//! Network namespaces, veth links, bridges and process guards.
//!
//! A [`Namespace`] is a cheap handle (reference counted): daemons keep a clone, so the namespace
//! outlives every process started in it. When the last handle goes, every PID still inside is
//! killed (`ip netns pids`) and the namespace deleted. A [`Process`] is killed and reaped when
//! dropped. New namespaces get `lo` up, no default route and no link to the host.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{HarnessError, Result, unique_name, wait_until};

/// Runs a host command, failing with its stderr when it exits non-zero.
pub fn run<I, S>(program: &str, args: I) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let command_line = format!(
        "{program} {}",
        args.iter().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
    );
    let output = Command::new(program)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| HarnessError::Io { command: command_line.clone(), source })?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(HarnessError::CommandFailed {
            command: command_line,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

#[derive(Debug)]
struct NamespaceInner {
    name: String,
}

/// A network namespace owned by the test. Clones share it; the last drop deletes it.
#[derive(Debug, Clone)]
pub struct Namespace {
    inner: Arc<NamespaceInner>,
}

impl Namespace {
    /// Creates `il<pid>x<n><tag>` with `lo` up.
    ///
    /// The first call of a process also removes namespaces left by harness runs that were
    /// killed outright (SIGKILL skips every `Drop`): those whose owner PID no longer exists.
    pub fn new(tag: &str) -> Result<Self> {
        crate::require_program("ip", "iproute2")?;
        static SWEEP: std::sync::Once = std::sync::Once::new();
        SWEEP.call_once(sweep_stale);
        let name = unique_name(tag);
        run("ip", ["netns", "add", &name])?;
        let namespace = Self { inner: Arc::new(NamespaceInner { name }) };
        namespace.ip(&["link", "set", "lo", "up"])?;
        Ok(namespace)
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// `ip -n NAME args...`
    pub fn ip(&self, args: &[&str]) -> Result<Output> {
        let mut all = vec!["-n", self.name()];
        all.extend_from_slice(args);
        run("ip", all)
    }

    /// Runs `program args` inside the namespace and waits for it.
    pub fn exec<S: AsRef<OsStr>>(&self, program: &str, args: &[S]) -> Result<Output> {
        let mut all: Vec<std::ffi::OsString> =
            vec!["netns".into(), "exec".into(), self.name().into(), program.into()];
        all.extend(args.iter().map(|a| a.as_ref().to_owned()));
        run("ip", all)
    }

    /// Starts `program args` inside the namespace, stdout and stderr appended to `log`.
    ///
    /// `ip netns exec` execs the program in place, so the returned PID is the daemon's own.
    pub fn spawn<S: AsRef<OsStr>>(
        &self,
        name: &str,
        program: &Path,
        args: &[S],
        log: &Path,
    ) -> Result<Process> {
        let open_log = || {
            std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(|source| {
                HarnessError::Io { command: format!("open {}", log.display()), source }
            })
        };
        let child = Command::new("ip")
            .args(["netns", "exec", self.name()])
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(open_log()?)
            .stderr(open_log()?)
            .spawn()
            .map_err(|source| HarnessError::Io {
                command: format!("ip netns exec {} {}", self.name(), program.display()),
                source,
            })?;
        Ok(Process { name: name.to_owned(), child: Some(child), log: log.to_path_buf() })
    }

    /// PIDs of every process inside the namespace.
    pub fn pids(&self) -> Vec<u32> {
        pids_in(self.name())
    }

    /// Adds `address` (with prefix length, e.g. `192.0.2.1/24`) to `interface`.
    /// IPv6 addresses get `nodad` so they can be bound at once.
    pub fn add_address(&self, interface: &str, address: &str) -> Result<()> {
        let mut args = vec!["addr", "add", address, "dev", interface];
        if address.contains(':') {
            args.push("nodad");
        }
        self.ip(&args).map(drop)
    }

    pub fn link_up(&self, interface: &str) -> Result<()> {
        self.ip(&["link", "set", interface, "up"]).map(drop)
    }
}

fn pids_in(namespace: &str) -> Vec<u32> {
    Command::new("ip")
        .args(["netns", "pids", namespace])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

impl Drop for NamespaceInner {
    fn drop(&mut self) {
        let start = Instant::now();
        loop {
            let pids = pids_in(&self.name);
            if pids.is_empty() || start.elapsed() > Duration::from_secs(5) {
                break;
            }
            for pid in pids {
                signal(pid, libc::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Err(error) = run("ip", ["netns", "delete", self.name.as_str()]) {
            eprintln!("cleanup: {error}");
        }
    }
}

/// Deletes `il<pid>x...` namespaces whose owning test process is gone.
fn sweep_stale() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let owner = name
            .strip_prefix("il")
            .and_then(|rest| rest.split_once('x'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok());
        if let Some(pid) = owner
            && pid != std::process::id()
            && !process_alive(pid)
        {
            drop(NamespaceInner { name });
        }
    }
}

/// Moves the calling thread (only it) into the namespace `name` (setns(2)):
/// sockets it opens afterwards live there, whichever thread uses them later,
/// and threads it spawns start there.
pub fn enter(name: &str) -> Result<()> {
    use std::os::fd::AsRawFd;
    let path = PathBuf::from("/run/netns").join(name);
    let io = |command: String, source| HarnessError::Io { command, source };
    let file = std::fs::File::open(&path).map_err(|e| io(path.display().to_string(), e))?;
    // SAFETY: setns(2) on a descriptor we own, for the calling thread only.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io(format!("setns {}", path.display()), std::io::Error::last_os_error()));
    }
    Ok(())
}

/// True when the namespace `name` exists (used by cleanup checks).
pub fn namespace_exists(name: &str) -> bool {
    PathBuf::from("/run/netns").join(name).exists()
}

/// True when `pid` is a live (not zombie) process.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Sends `sig` to `pid`; errors (already gone) are ignored on purpose.
pub fn signal(pid: u32, sig: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) has no memory-safety preconditions; a stale PID only yields ESRCH.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// A process started by the harness: killed (SIGKILL) and reaped on drop.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Process {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    /// `Ok(())` while running; the exit status with the log tail once it has exited.
    pub fn check_running(&mut self) -> Result<()> {
        let pid = self.pid();
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => Ok(()),
            Some(Ok(Some(status))) => Err(self.exited(pid, status.to_string())),
            Some(Err(error)) => Err(self.exited(pid, error.to_string())),
            None => Err(self.exited(pid, "already reaped".to_owned())),
        }
    }

    fn exited(&self, pid: u32, status: String) -> HarnessError {
        HarnessError::Exited {
            name: self.name.clone(),
            pid,
            status,
            log: crate::tail(&self.log, 40),
        }
    }

    pub fn signal(&self, sig: libc::c_int) {
        if self.child.is_some() {
            signal(self.pid(), sig);
        }
    }

    /// SIGSTOP: the process stays, silent (hold timer tests).
    pub fn freeze(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// SIGCONT after [`Process::freeze`].
    pub fn thaw(&self) {
        self.signal(libc::SIGCONT);
    }

    /// Sends `sig` and waits up to `deadline` for the exit status.
    pub fn stop_with(&mut self, sig: libc::c_int, deadline: Duration) -> Result<ExitStatus> {
        self.signal(sig);
        let name = self.name.clone();
        let log = self.log.clone();
        let Some(child) = self.child.as_mut() else {
            return Err(self.exited(0, "already reaped".to_owned()));
        };
        let status = wait_until(
            &format!("{name} to exit"),
            deadline,
            Duration::from_millis(50),
            || child.try_wait().ok().flatten(),
            || crate::tail(&log, 40),
        )?;
        self.child = None;
        Ok(status)
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // SIGKILL ends a process frozen with SIGSTOP as well, so no SIGCONT is needed.
        self.kill();
    }
}

/// A veth pair between two namespaces.
#[derive(Debug, Clone)]
pub struct Link {
    pub left: String,
    pub right: String,
}

/// Connects `left` and `right` with a veth pair named `left_if`/`right_if` (created straight
/// inside the namespaces, so the names only need to be unique per namespace), assigns the given
/// addresses (with prefix lengths) and brings both ends up.
pub fn connect(
    left: &Namespace,
    left_if: &str,
    left_addresses: &[&str],
    right: &Namespace,
    right_if: &str,
    right_addresses: &[&str],
) -> Result<Link> {
    run(
        "ip",
        [
            "link",
            "add",
            left_if,
            "netns",
            left.name(),
            "type",
            "veth",
            "peer",
            "name",
            right_if,
            "netns",
            right.name(),
        ],
    )?;
    for address in left_addresses {
        left.add_address(left_if, address)?;
    }
    for address in right_addresses {
        right.add_address(right_if, address)?;
    }
    left.link_up(left_if)?;
    right.link_up(right_if)?;
    Ok(Link { left: left_if.to_owned(), right: right_if.to_owned() })
}

/// A layer2 segment: a bridge `br0` inside its own namespace, nodes attached by veth.
#[derive(Debug)]
pub struct Bridge {
    namespace: Namespace,
    ports: u32,
}

impl Bridge {
    pub fn new() -> Result<Self> {
        let namespace = Namespace::new("lan")?;
        namespace.ip(&["link", "add", "br0", "type", "bridge"])?;
        namespace.link_up("br0")?;
        Ok(Self { namespace, ports: 0 })
    }

    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// Attaches `node` through interface `node_if` carrying `addresses`; returns the bridge
    /// port's name.
    pub fn attach(
        &mut self,
        node: &Namespace,
        node_if: &str,
        addresses: &[&str],
    ) -> Result<String> {
        self.ports += 1;
        let port = format!("port{}", self.ports);
        connect(node, node_if, addresses, &self.namespace, &port, &[])?;
        self.namespace.ip(&["link", "set", &port, "master", "br0"])?;
        Ok(port)
    }
}
