//! The one `setsockopt(2)` wrapper for the integer options socket2 does not
//! offer (TTL security, BFD's TTL and destination reports, Don't Fragment,
//! the hop limit of Router Advertisements), shared by the session, BFD and
//! unnumbered sockets.

use std::io;
use std::os::fd::RawFd;

/// Sets the integer option `level`/`name` of `fd` to `value`.
pub(crate) fn set_int(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` outlives the call and the length matches its type.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const value).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}
