//! What can go wrong in `bgpctl`, each with the one line printed on stderr and
//! the exit code it maps to (listed in `--help`, see [`crate::cli::EXIT_CODES`]).

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tonic::Code;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// No connection to bgpd: refused, no socket, unreachable.
    #[error("cannot reach bgpd at {api}: {reason}")]
    Unreachable { api: String, reason: String },
    /// Connected (or connecting) but no answer in time.
    #[error("bgpd at {api} did not answer within {}s", timeout.as_secs_f64())]
    Timeout { api: String, timeout: Duration },
    /// bgpd answered with an error status, or rejected a path of a batch.
    #[error("bgpd refused: {}: {message}", code_name(*code))]
    Refused { code: Code, message: String },
    /// `--api` is not an address bgpctl can connect to.
    #[error("--api {0:?} is neither HOST:PORT, http://HOST:PORT nor unix:/PATH")]
    BadApi(String),
    /// `--password-file` cannot be read.
    #[error("cannot read password file {path:?}: {source}")]
    PasswordFile { path: PathBuf, source: io::Error },
    /// bgpd's answer lacks something the protocol promises.
    #[error("bgpd's answer has no {0}")]
    Incomplete(&'static str),
    /// Writing to stdout failed.
    #[error("cannot write output: {}", reason(.0))]
    Output(#[from] io::Error),
    /// A message could not be turned into JSON.
    #[error("cannot print {message} as JSON: {reason}")]
    Json { message: &'static str, reason: String },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(io::Error),
}

/// Exit code: bgpd refused the request.
pub const EXIT_REFUSED: u8 = 1;
/// Exit code: bad command line (clap uses 2 as well).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: bgpd cannot be reached.
pub const EXIT_UNREACHABLE: u8 = 3;
/// Exit code: bgpctl's own output or runtime failed.
pub const EXIT_LOCAL: u8 = 4;

impl CtlError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            CtlError::Refused { .. } | CtlError::Incomplete(_) => EXIT_REFUSED,
            CtlError::BadApi(_) | CtlError::PasswordFile { .. } => EXIT_USAGE,
            CtlError::Unreachable { .. } | CtlError::Timeout { .. } => EXIT_UNREACHABLE,
            CtlError::Output(_) | CtlError::Json { .. } | CtlError::Runtime(_) => EXIT_LOCAL,
        })
    }

    /// A closed stdout (`bgpctl route list | head`) is how pipelines end, not
    /// a failure worth a message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CtlError::Output(error) if error.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// The canonical gRPC name of a status code, as grpcurl and the gRPC spec
/// print it ("INVALID_ARGUMENT").
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The innermost I/O error of an error chain, said the way people read it
/// ("connection refused", "no such file or directory"), without the
/// "(os error 111)" suffix; or the outermost message when there is none.
pub fn reason(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost_io: Option<&io::Error> = None;
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        if let Some(io_error) = error.downcast_ref::<io::Error>() {
            innermost_io = Some(io_error);
        }
        current = error.source();
    }
    let text = match innermost_io {
        Some(io_error) => io_error.to_string(),
        None => {
            let mut deepest = error;
            while let Some(source) = deepest.source() {
                deepest = source;
            }
            deepest.to_string()
        }
    };
    let text = match text.find(" (os error ") {
        Some(at) => &text[..at],
        None => text.as_str(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "unknown error".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("transport error")]
    struct Outer(#[source] io::Error);

    #[test]
    fn reasons_come_from_the_innermost_io_error() {
        let refused = Outer(io::Error::from_raw_os_error(libc::ECONNREFUSED));
        assert_eq!(reason(&refused), "connection refused");
        let plain = io::Error::other("Weird thing");
        assert_eq!(reason(&plain), "weird thing");
    }

    #[test]
    fn refusals_print_the_canonical_code() {
        let error = CtlError::Refused { code: Code::InvalidArgument, message: "x".into() };
        assert_eq!(error.to_string(), "bgpd refused: INVALID_ARGUMENT: x");
        assert_eq!(error.exit_code(), ExitCode::from(EXIT_REFUSED));
    }
}
