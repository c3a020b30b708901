//! Where bgpd's log lines go: standard output, one line per write, and never a
//! panic or an exit when that output cannot be written.
//!
//! A full disk (or a closed pipe, or `/dev/full`) makes every write fail. The
//! default fmt writer then reports each failure with `eprintln!`, which panics
//! when standard error fails too, so a full disk that held both outputs ended
//! bgpd (exit 101) and its BGP sessions with it. [`LogOutput`] instead keeps
//! running: a line that cannot be written is counted, not retried (lines are
//! not held in memory, so a long outage costs nothing), and the first line
//! written after an outage is preceded by a notice of how many were lost, in
//! the log's own format. The total is the metric
//! `ironlb_log_lines_lost_total` ([`lines_lost`]), so the loss is never silent.
//!
//! Bound: nothing is buffered here beyond the one line being written.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};

use crate::config::LogFormat;

/// Lines lost since the last notice was written.
static LOST_SINCE_NOTICE: AtomicU64 = AtomicU64::new(0);
/// Lines lost since the process started.
static LOST_TOTAL: AtomicU64 = AtomicU64::new(0);

/// Log lines that could not be written since bgpd started.
pub fn lines_lost() -> u64 {
    LOST_TOTAL.load(Ordering::Relaxed)
}

/// The fmt layer's writer: standard output, failures counted (see the module).
#[derive(Clone, Copy, Debug)]
pub struct LogOutput {
    format: LogFormat,
}

impl LogOutput {
    /// `format` is the log's, so that a loss notice reads like the lines around it.
    pub fn new(format: LogFormat) -> Self {
        Self { format }
    }
}

impl<'a> MakeWriter<'a> for LogOutput {
    type Writer = LineWriter<io::Stdout>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter { out: io::stdout(), format: self.format }
    }
}

/// Writes each formatted line whole to `out`; never returns an error.
pub struct LineWriter<W> {
    out: W,
    format: LogFormat,
}

impl<W: Write> LineWriter<W> {
    #[cfg(test)]
    fn with(out: W, format: LogFormat) -> Self {
        Self { out, format }
    }
}

impl<W: Write> Write for LineWriter<W> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let lost = LOST_SINCE_NOTICE.swap(0, Ordering::Relaxed);
        if lost > 0 && self.out.write_all(notice(self.format, lost).as_bytes()).is_err() {
            // Still failing: the count waits for the next line.
            LOST_SINCE_NOTICE.fetch_add(lost, Ordering::Relaxed);
        }
        if self.out.write_all(line).is_err() {
            LOST_SINCE_NOTICE.fetch_add(1, Ordering::Relaxed);
            LOST_TOTAL.fetch_add(1, Ordering::Relaxed);
        }
        // The line is accounted for either way: reporting an error would only make
        // the fmt layer report it on standard error (see the module).
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = self.out.flush();
        Ok(())
    }
}

/// The line that says `lost` lines were not written, as the log's format writes a
/// warning.
fn notice(format: LogFormat, lost: u64) -> String {
    let mut timestamp = String::new();
    let _ = SystemTime.format_time(&mut Writer::new(&mut timestamp));
    let message = "log lines could not be written (output failed)";
    match format {
        LogFormat::Text => format!("{timestamp}  WARN {message} lost={lost}\n"),
        LogFormat::Json => format!(
            "{{\"timestamp\":\"{timestamp}\",\"level\":\"WARN\",\"message\":\"{message}\",\"lost\":{lost}}}\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// An output that fails while `failing` is set and keeps what it was given.
    struct Flaky {
        failing: Rc<Cell<bool>>,
        written: Rc<std::cell::RefCell<Vec<u8>>>,
    }

    impl Write for Flaky {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.failing.get() {
                return Err(io::Error::from_raw_os_error(28)); // ENOSPC
            }
            self.written.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    // One test for both formats: the counters are process-wide.
    #[test]
    fn lines_that_cannot_be_written_are_counted_and_announced_when_output_returns() {
        for format in [LogFormat::Text, LogFormat::Json] {
            let failing = Rc::new(Cell::new(false));
            let written = Rc::new(std::cell::RefCell::new(Vec::new()));
            let flaky = Flaky { failing: Rc::clone(&failing), written: Rc::clone(&written) };
            let mut writer = LineWriter::with(flaky, format);
            let before = lines_lost();
            assert_eq!(writer.write(b"one\n").unwrap(), 4);
            failing.set(true);
            for _ in 0..3 {
                assert_eq!(writer.write(b"lost\n").unwrap(), 5, "a failed write is no error");
            }
            assert_eq!(lines_lost() - before, 3);
            failing.set(false);
            writer.write_all(b"two\n").unwrap();
            let text = String::from_utf8(written.borrow().clone()).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 3, "{text}");
            assert_eq!(lines[0], "one");
            assert_eq!(lines[2], "two");
            match format {
                LogFormat::Text => {
                    assert!(
                        lines[1].ends_with(
                            "WARN log lines could not be written (output failed) lost=3"
                        ),
                        "{text}"
                    )
                }
                LogFormat::Json => {
                    let notice: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
                    assert_eq!(notice["level"], "WARN");
                    assert_eq!(notice["lost"], 3);
                }
            }
            // Announced once.
            writer.write_all(b"three\n").unwrap();
            assert_eq!(String::from_utf8(written.borrow().clone()).unwrap().lines().count(), 4);
        }
    }
}
