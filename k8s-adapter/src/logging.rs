//! Where the adapter's log lines go: standard output, one line per write, never a panic.
//!
//! tracing-subscriber's default writer reports a failed write with `eprintln!`, which panics
//! when standard error fails too: a full disk under both outputs (or a closed pipe) would end
//! the controller or the speaker, and with the speaker every route and layer2 address of its
//! node. [`LogOutput`] counts a line it cannot write instead (nothing is held or retried, so
//! an outage costs no memory) and says so in the metric `ironlb_log_lines_lost_total` of
//! both the controller's and the speaker's `/metrics` ([`lost_counter`]).
//!
//! Bound: nothing is buffered here beyond the one line being written.

use std::io::{self, Write};
use std::sync::LazyLock;

use prometheus_client::metrics::counter::Counter;
use tracing_subscriber::fmt::MakeWriter;

/// Lines that could not be written since the process started.
static LOST: LazyLock<Counter> = LazyLock::new(Counter::default);

/// The lost-lines counter, to register in a metrics registry (clones share the count).
pub fn lost_counter() -> Counter {
    LOST.clone()
}

/// The fmt layer's writer: standard output, failures counted.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogOutput;

impl<'a> MakeWriter<'a> for LogOutput {
    type Writer = LineWriter<io::Stdout>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(io::stdout())
    }
}

/// Writes each formatted line whole to its output; never returns an error.
pub struct LineWriter<W>(W);

impl<W: Write> Write for LineWriter<W> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        if self.0.write_all(line).is_err() {
            LOST.inc();
        }
        // Accounted for either way: an error would only be reported with `eprintln!`.
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = self.0.flush();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output that always fails, as a full disk does.
    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(28)) // ENOSPC
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from_raw_os_error(28))
        }
    }

    #[test]
    fn a_line_that_cannot_be_written_is_counted_not_reported() {
        let before = lost_counter().get();
        let mut writer = LineWriter(Full);
        assert_eq!(writer.write(b"one line\n").unwrap(), 9);
        assert!(writer.flush().is_ok());
        assert_eq!(lost_counter().get(), before + 1);
        let mut fine = LineWriter(Vec::new());
        assert_eq!(fine.write(b"two\n").unwrap(), 4);
        assert_eq!(fine.0, b"two\n");
        assert_eq!(lost_counter().get(), before + 1);
    }
}
