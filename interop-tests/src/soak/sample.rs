//! What the soak records every sample interval, the CSV it writes, and the least-squares
//! slope it judges RSS and open files by.

use std::io::Write as _;
use std::path::Path;

use crate::{HarnessError, Result};

/// One row of the soak's CSV.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Seconds since the churn started.
    pub t_seconds: f64,
    /// bgpd's VmRSS, KiB.
    pub rss_kib: u64,
    /// Entries of /proc/PID/fd.
    pub fds: u64,
    /// GetPeer: state name and flap count, FRR peer then BIRD peer.
    pub frr_state: String,
    pub frr_flaps: u64,
    pub bird_state: String,
    pub bird_flaps: u64,
    /// Prefix changes the churn client had applied by now.
    pub churn_changes: u64,
    /// Misbehaving clients: stalled watchers held, idle connections held, Session streams
    /// ended by the server so far.
    pub stalled_watchers: u64,
    pub idle_connections: u64,
    pub sessions_cut: u64,
}

impl Sample {
    pub const HEADER: &'static str = "t_seconds,rss_kib,fds,frr_state,frr_flaps,bird_state,\
                                      bird_flaps,churn_changes,stalled_watchers,\
                                      idle_connections,sessions_cut";

    pub fn csv_row(&self) -> String {
        format!(
            "{:.1},{},{},{},{},{},{},{},{},{},{}",
            self.t_seconds,
            self.rss_kib,
            self.fds,
            self.frr_state,
            self.frr_flaps,
            self.bird_state,
            self.bird_flaps,
            self.churn_changes,
            self.stalled_watchers,
            self.idle_connections,
            self.sessions_cut
        )
    }
}

/// Appends rows to the CSV, header first.
#[derive(Debug)]
pub struct CsvWriter {
    file: std::fs::File,
    path: std::path::PathBuf,
}

impl CsvWriter {
    pub fn create(path: &Path) -> Result<Self> {
        let io = |source| HarnessError::Io { command: format!("write {}", path.display()), source };
        let mut file = std::fs::File::create(path).map_err(io)?;
        writeln!(file, "{}", Sample::HEADER).map_err(io)?;
        Ok(Self { file, path: path.to_path_buf() })
    }

    pub fn push(&mut self, sample: &Sample) -> Result<()> {
        writeln!(self.file, "{}", sample.csv_row()).map_err(|source| HarnessError::Io {
            command: format!("write {}", self.path.display()),
            source,
        })
    }
}

/// VmRSS of `pid` in KiB, 0 when it cannot be read.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .unwrap_or(0)
}

/// Open descriptors of `pid` (entries of /proc/PID/fd), 0 when it cannot be read.
pub fn open_fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64)
}

/// The least-squares slope of `y` over `x` (units of y per unit of x); `None` with fewer
/// than two distinct x.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    Some(sxy / sxx)
}

/// RSS (MiB per minute) and open files (per minute) slopes over the samples taken at or after
/// `warmup_seconds`.
pub fn slopes_after(samples: &[Sample], warmup_seconds: f64) -> (Option<f64>, Option<f64>) {
    let kept: Vec<&Sample> = samples.iter().filter(|s| s.t_seconds >= warmup_seconds).collect();
    let rss: Vec<(f64, f64)> =
        kept.iter().map(|s| (s.t_seconds / 60.0, s.rss_kib as f64 / 1024.0)).collect();
    let fds: Vec<(f64, f64)> = kept.iter().map(|s| (s.t_seconds / 60.0, s.fds as f64)).collect();
    (slope(&rss), slope(&fds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line_is_exact() {
        let points: Vec<(f64, f64)> =
            (0..10).map(|i| (f64::from(i), 3.0 * f64::from(i) + 7.0)).collect();
        let got = slope(&points).unwrap();
        assert!((got - 3.0).abs() < 1e-9, "{got}");
    }

    #[test]
    fn slope_of_flat_noise_is_near_zero() {
        let points: Vec<(f64, f64)> =
            (0..20).map(|i| (f64::from(i), if i % 2 == 0 { 10.0 } else { 12.0 })).collect();
        assert!(slope(&points).unwrap().abs() < 0.11);
    }

    #[test]
    fn slope_needs_two_distinct_points() {
        assert_eq!(slope(&[]), None);
        assert_eq!(slope(&[(1.0, 2.0)]), None);
        assert_eq!(slope(&[(1.0, 2.0), (1.0, 3.0)]), None);
    }

    #[test]
    fn slopes_skip_the_warm_up_and_use_minutes_and_mib() {
        let samples: Vec<Sample> = (0..13)
            .map(|i| Sample {
                t_seconds: f64::from(i) * 10.0,
                // Grows fast during the first minute, then 1 MiB and 6 fds per minute.
                rss_kib: if i < 6 {
                    1024 * 100 * i as u64
                } else {
                    1024 * 600 + 1024 * i as u64 / 6
                },
                fds: if i < 6 { 10 * i as u64 } else { 50 + i as u64 },
                ..Sample::default()
            })
            .collect();
        let (rss, fds) = slopes_after(&samples, 60.0);
        assert!((rss.unwrap() - 1.0).abs() < 0.3, "{rss:?}");
        assert!((fds.unwrap() - 6.0).abs() < 1e-9, "{fds:?}");
    }

    #[test]
    fn a_row_has_every_header_column() {
        let row = Sample::default().csv_row();
        assert_eq!(row.split(',').count(), Sample::HEADER.split(',').count());
    }
}
