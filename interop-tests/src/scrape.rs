//! Timed scrapes of bgpd's `/metrics` from inside a test namespace, for the benches (issue 13,
//! "Speed": a scrape must cost the daemon nothing measurable and answer fast).
//!
//! A scrape is plain blocking HTTP/1.1 on a thread that has joined the DUT's namespace
//! (`setns`, as the rig's sessions do): connect, `GET /metrics` with `Connection: close`, read
//! to the end. Its time is the client's wall time from the connect to the last byte. The answer
//! must be `200`, end with `# EOF` (OpenMetrics) and parse with a real parser
//! (prometheus-parse, as `tests/metrics.rs` does); parsing is done after the clock stops.
//!
//! [`Scraper`] scrapes every interval while a bench runs (the propagation bench's
//! `bgpd-metrics` DUT); [`series`] times N scrapes back to back (`bench-metrics-scrape`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::netns::Namespace;
use crate::rig::join_namespace;
use crate::{HarnessError, Result};

/// Longest a scrape may take before it counts as failed.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong with one scrape.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("GET http://{address}/metrics: {source}")]
    Io { address: SocketAddr, source: std::io::Error },
    #[error("GET http://{address}/metrics answered {status_line:?}")]
    Status { address: SocketAddr, status_line: String },
    #[error("the answer of http://{address}/metrics has no end of headers ({bytes} bytes)")]
    Truncated { address: SocketAddr, bytes: usize },
    #[error("the exposition of http://{address}/metrics does not end with # EOF ({bytes} bytes)")]
    NoEof { address: SocketAddr, bytes: usize },
    #[error("the exposition of http://{address}/metrics does not parse: {source}")]
    Parse { address: SocketAddr, source: std::io::Error },
}

/// One scrape: how long it took, how big the exposition was, and what it said.
pub struct Scrape {
    /// Connect to last byte, client side.
    pub elapsed: Duration,
    /// Bytes of the exposition (the HTTP body).
    pub bytes: usize,
    pub parsed: prometheus_parse::Scrape,
}

impl Scrape {
    /// The value of the first sample of `name` carrying all of `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples(name, labels).next()
    }

    /// The values of every sample of `name` carrying all of `labels`.
    pub fn samples<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = f64> + 'a {
        self.parsed
            .samples
            .iter()
            .filter(move |s| {
                s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
            })
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
    }
}

/// Scrapes `address` once from the calling thread's network namespace.
pub fn scrape(address: SocketAddr) -> std::result::Result<Scrape, ScrapeError> {
    let io = |source| ScrapeError::Io { address, source };
    let start = Instant::now();
    let mut stream = TcpStream::connect_timeout(&address, SCRAPE_TIMEOUT).map_err(io)?;
    stream.set_read_timeout(Some(SCRAPE_TIMEOUT)).map_err(io)?;
    stream
        .write_all(
            format!("GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .map_err(io)?;
    let mut answer = Vec::with_capacity(512 * 1024);
    stream.read_to_end(&mut answer).map_err(io)?;
    let elapsed = start.elapsed();
    let head_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(ScrapeError::Truncated { address, bytes: answer.len() })?;
    let head = String::from_utf8_lossy(&answer[..head_end]);
    let status_line = head.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) != Some("200") {
        return Err(ScrapeError::Status { address, status_line: status_line.to_owned() });
    }
    let body = String::from_utf8_lossy(&answer[head_end + 4..]);
    let bytes = body.len();
    if !body.ends_with("# EOF\n") {
        return Err(ScrapeError::NoEof { address, bytes });
    }
    let parsed = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned())))
        .map_err(|source| ScrapeError::Parse { address, source })?;
    Ok(Scrape { elapsed, bytes, parsed })
}

/// `count` scrapes of `address` from inside `namespace`, `gap` apart (so each sees an idle
/// daemon, as a Prometheus would); stops at the first failure.
pub fn series(
    namespace: &Namespace,
    address: SocketAddr,
    count: usize,
    gap: Duration,
) -> Result<Vec<Scrape>> {
    let name = namespace.name().to_owned();
    let command = || format!("scrape http://{address}/metrics in {name}");
    let outcome = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                join_namespace(&name)
                    .map_err(|source| HarnessError::Io { command: command(), source })?;
                let mut scrapes = Vec::with_capacity(count);
                for _ in 0..count {
                    let scrape = scrape(address).map_err(|e| HarnessError::Io {
                        command: command(),
                        source: std::io::Error::other(e),
                    })?;
                    scrapes.push(scrape);
                    std::thread::sleep(gap);
                }
                Ok(scrapes)
            })
            .join()
    });
    outcome.unwrap_or_else(|_| {
        Err(HarnessError::Io {
            command: command(),
            source: std::io::Error::other("the scraping thread panicked"),
        })
    })
}

/// What a [`Scraper`] saw.
#[derive(Debug, Default)]
pub struct ScrapeLog {
    /// Times of the successful scrapes, in order.
    pub times: Vec<Duration>,
    /// Bytes of the last successful exposition.
    pub bytes: usize,
    /// Every failed scrape, in order.
    pub failures: Vec<String>,
}

impl ScrapeLog {
    pub fn max(&self) -> Duration {
        self.times.iter().copied().max().unwrap_or_default()
    }
}

/// Scrapes every `every` on a thread of its own inside a namespace until finished or dropped.
pub struct Scraper {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<ScrapeLog>>,
}

impl Scraper {
    pub fn start(namespace: &Namespace, address: SocketAddr, every: Duration) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let name = namespace.name().to_owned();
        let thread = std::thread::spawn(move || {
            let mut log = ScrapeLog::default();
            if let Err(error) = join_namespace(&name) {
                log.failures.push(format!("cannot join {name}: {error}"));
                return log;
            }
            loop {
                let started = Instant::now();
                match scrape(address) {
                    Ok(scrape) => {
                        log.times.push(scrape.elapsed);
                        log.bytes = scrape.bytes;
                    }
                    Err(error) => log.failures.push(error.to_string()),
                }
                let next = every.saturating_sub(started.elapsed());
                match stopped.recv_timeout(next) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return log,
                }
            }
        });
        Self { stop: Some(stop), thread: Some(thread) }
    }

    /// Stops scraping and returns what was seen.
    pub fn finish(mut self) -> ScrapeLog {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> ScrapeLog {
        drop(self.stop.take());
        let thread = self.thread.take();
        thread.map(|t| t.join().unwrap_or_default()).unwrap_or_default()
    }
}

impl Drop for Scraper {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// The `q` quantile (0..=1, nearest rank) of `values`, sorted in place.
pub fn quantile(values: &mut [Duration], q: f64) -> Duration {
    values.sort();
    if values.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let ms = Duration::from_millis;
        let mut values: Vec<Duration> = (1..=100).rev().map(ms).collect();
        assert_eq!(quantile(&mut values, 0.5), ms(50));
        assert_eq!(quantile(&mut values, 0.99), ms(99));
        assert_eq!(quantile(&mut values, 0.0), ms(1));
        assert_eq!(quantile(&mut values, 1.0), ms(100));
        assert_eq!(quantile(&mut [], 0.5), Duration::ZERO);
    }
}
