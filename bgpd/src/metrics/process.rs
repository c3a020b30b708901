//! The process's own numbers, read from Linux `/proc/self` on scrape:
//! resident memory (`VmRSS` of `status`) and open file descriptors (the
//! entries of `fd/`). Elsewhere (or when `/proc` is not mounted) they are
//! simply absent from the scrape.

use std::path::Path;

/// One reading of `/proc/self`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessStats {
    pub resident_bytes: Option<u64>,
    pub open_fds: Option<u64>,
    /// Log lines that could not be written (`crate::logging`).
    pub log_lines_lost: u64,
}

/// Reads `root` (`/proc/self`). Blocking file I/O: call it off the async
/// workers (`spawn_blocking`).
pub fn read(root: &Path) -> ProcessStats {
    let resident_bytes =
        std::fs::read_to_string(root.join("status")).ok().and_then(|text| vm_rss(&text));
    let open_fds = std::fs::read_dir(root.join("fd")).ok().map(|entries| entries.count() as u64);
    ProcessStats { resident_bytes, open_fds, log_lines_lost: crate::logging::lines_lost() }
}

/// `VmRSS:   12345 kB` in the text of `/proc/PID/status`, in bytes.
fn vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|line| line.strip_prefix("VmRSS:"))?;
    let mut words = line.split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => value.checked_mul(1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_bytes() {
        let status = "Name:\tbgpd\nVmPeak:\t  9000 kB\nVmRSS:\t    2048 kB\nThreads:\t4\n";
        assert_eq!(vm_rss(status), Some(2048 * 1024));
        assert_eq!(vm_rss("Name:\tbgpd\n"), None);
        assert_eq!(vm_rss("VmRSS:\tlots kB\n"), None);
    }

    #[test]
    fn reads_this_process() {
        let stats = read(Path::new("/proc/self"));
        if Path::new("/proc/self/status").exists() {
            assert!(stats.resident_bytes.is_some_and(|bytes| bytes > 0));
            assert!(stats.open_fds.is_some_and(|fds| fds >= 3));
        }
    }
}
