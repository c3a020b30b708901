//! TCP sockets for BGP sessions: listening and connecting sockets with TCP MD5
//! signatures (RFC 2385, Linux `TCP_MD5SIG`), the outgoing TTL for eBGP multihop,
//! and the Generalized TTL Security Mechanism (RFC 5082: send with TTL 255,
//! accept only TTL >= 255 - hops + 1 via `IP_MINTTL` / `IPV6_MINHOPCOUNT`),
//! and the device binding of a neighbor's `vrf` (`SO_BINDTODEVICE`, see
//! [`bind_device`]).
//!
//! Setting these options is a few `setsockopt` calls on a socket that is not
//! connected yet; none of them blocks, so they run on the async runtime.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};

use socket2::SockRef;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Longest key Linux accepts (`TCP_MD5SIG_MAXKEYLEN`).
pub const MD5_MAX_KEY_LEN: usize = 80;

/// The TTL options of a session's socket. Which values a neighbour needs
/// (multihop, GTSM) is the config's rule (`config::TtlPolicy`); this is only
/// what the kernel is told.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TtlSettings {
    /// `IP_TTL` / `IPV6_UNICAST_HOPS` of our segments.
    pub send: u8,
    /// `IP_MINTTL` / `IPV6_MINHOPCOUNT`: segments arriving with less are dropped.
    pub minimum: Option<u8>,
}

/// Errors from preparing a session socket.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("TCP MD5 key for {peer} is {len} bytes; Linux accepts at most {MD5_MAX_KEY_LEN}")]
    KeyTooLong { peer: IpAddr, len: usize },
    #[error("setting TCP MD5 signature for {peer}: {source}")]
    Md5 { peer: IpAddr, source: io::Error },
    #[error("setting TTL options ({settings:?}): {source}")]
    Ttl { settings: TtlSettings, source: io::Error },
    #[error("binding {address}: {source}")]
    Bind { address: SocketAddr, source: io::Error },
    #[error("creating a socket: {0}")]
    Create(io::Error),
    #[error("connecting to {remote}: {source}")]
    Connect { remote: SocketAddr, source: io::Error },
    #[error("binding to device {device:?} (vrf): {source}")]
    Device { device: String, source: io::Error },
}

/// `struct tcp_md5sig` from `linux/tcp.h`, which `libc` does not define.
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefix_len: u8,
    key_len: u16,
    ifindex: i32,
    key: [u8; MD5_MAX_KEY_LEN],
}

/// Installs (or, with an empty key, removes) the TCP MD5 key for `peer` on `fd`.
///
/// On an IPv6 socket an IPv4 peer arrives as a v4-mapped address, so the key is
/// installed for that form too.
pub fn set_md5_key(
    fd: RawFd,
    socket_is_v6: bool,
    peer: IpAddr,
    key: &[u8],
) -> Result<(), SocketError> {
    if key.len() > MD5_MAX_KEY_LEN {
        return Err(SocketError::KeyTooLong { peer, len: key.len() });
    }
    let address = match (peer, socket_is_v6) {
        (IpAddr::V4(v4), true) => IpAddr::V6(v4.to_ipv6_mapped()),
        (other, _) => other,
    };
    // SAFETY: an all-zero `sockaddr_storage` and byte arrays are valid values.
    let mut sig: TcpMd5Sig = unsafe { std::mem::zeroed() };
    write_sockaddr(&mut sig.addr, address);
    sig.key_len = key.len() as u16; // <= 80, checked above
    sig.key[..key.len()].copy_from_slice(key);
    // SAFETY: `sig` is a live, correctly laid out `tcp_md5sig` and the length
    // passed is its size; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_MD5SIG,
            (&raw const sig).cast(),
            std::mem::size_of::<TcpMd5Sig>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(SocketError::Md5 { peer, source: io::Error::last_os_error() });
    }
    Ok(())
}

fn write_sockaddr(storage: &mut libc::sockaddr_storage, address: IpAddr) {
    match address {
        IpAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large and aligned enough for any sockaddr.
            let sin = unsafe { &mut *(&raw mut *storage).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from_ne_bytes(v4.octets());
        }
        IpAddr::V6(v6) => {
            // SAFETY: as above.
            let sin6 = unsafe { &mut *(&raw mut *storage).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr.s6_addr = v6.octets();
        }
    }
}

/// Applies the TTL settings to a socket of the given family.
pub fn apply_ttl<S: AsRawFd>(
    socket: &S,
    is_v6: bool,
    settings: TtlSettings,
) -> Result<(), SocketError> {
    let fd = socket.as_raw_fd();
    let send = settings.send;
    let min = settings.minimum.map(i32::from);
    let result = if is_v6 {
        crate::sockopt::set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, i32::from(send))
            .and_then(|()| match min {
                Some(min) => {
                    crate::sockopt::set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, min)
                }
                None => Ok(()),
            })
    } else {
        crate::sockopt::set_int(fd, libc::IPPROTO_IP, libc::IP_TTL, i32::from(send)).and_then(
            |()| match min {
                Some(min) => crate::sockopt::set_int(fd, libc::IPPROTO_IP, libc::IP_MINTTL, min),
                None => Ok(()),
            },
        )
    };
    result.map_err(|source| SocketError::Ttl { settings, source })
}

/// Binds a socket that is not bound to a device yet to `device`
/// (`SO_BINDTODEVICE`): its routes come from that device's table (a VRF
/// device's, or those through an ordinary interface), and a listener sees
/// only connections arriving on it. A first binding needs no capability since
/// Linux 5.7; only changing an existing binding needs `CAP_NET_RAW`, which
/// bgpd never does (each binding is on a new socket).
pub fn bind_device<S: std::os::fd::AsFd>(socket: &S, device: &str) -> Result<(), SocketError> {
    SockRef::from(socket)
        .bind_device(Some(device.as_bytes()))
        .map_err(|source| SocketError::Device { device: device.to_string(), source })
}

/// Everything needed to open the outgoing connection of one session.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub remote: SocketAddr,
    pub local_address: Option<IpAddr>,
    pub password: Option<Vec<u8>>,
    pub ttl: TtlSettings,
    /// The neighbor's `vrf`: the device the socket is bound to before the SYN.
    pub device: Option<String>,
}

/// Opens the outgoing TCP connection of a session with MD5 and TTL set before
/// the SYN leaves.
pub async fn connect(options: &ConnectOptions) -> Result<TcpStream, SocketError> {
    let is_v6 = options.remote.is_ipv6();
    let socket = if is_v6 { TcpSocket::new_v6() } else { TcpSocket::new_v4() }
        .map_err(SocketError::Create)?;
    if let Some(key) = &options.password {
        set_md5_key(socket.as_raw_fd(), is_v6, options.remote.ip(), key)?;
    }
    apply_ttl(&socket, is_v6, options.ttl)?;
    if let Some(device) = &options.device {
        bind_device(&socket, device)?;
    }
    if let Some(local) = options.local_address {
        let address = SocketAddr::new(local, 0);
        socket.bind(address).map_err(|source| SocketError::Bind { address, source })?;
    }
    let stream = socket
        .connect(options.remote)
        .await
        .map_err(|source| SocketError::Connect { remote: options.remote, source })?;
    // Updates are batched by us; Nagle would only delay the last partial batch.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Opens a listening socket. An IPv6 wildcard is made v6-only so that an IPv4
/// wildcard can be bound beside it on the same port.
pub fn listen(address: SocketAddr) -> Result<TcpListener, SocketError> {
    listen_on(address, None)
}

/// Opens a listening socket, bound to `device` when one is given (the
/// listener of the neighbors whose `vrf` is that device).
///
/// Every BGP listener has `SO_REUSEPORT`, as FRR's have: Linux lets a socket
/// bound to a device share a port with a wildcard one only when both have it.
/// A connection then goes to the socket bound to the device it arrived on,
/// which the kernel prefers; others go to the unbound one. The kernel lets
/// only sockets of the same user share a port this way.
pub fn listen_on(address: SocketAddr, device: Option<&str>) -> Result<TcpListener, SocketError> {
    let is_v6 = address.is_ipv6();
    let socket = if is_v6 { TcpSocket::new_v6() } else { TcpSocket::new_v4() }
        .map_err(SocketError::Create)?;
    socket.set_reuseaddr(true).map_err(|source| SocketError::Bind { address, source })?;
    socket.set_reuseport(true).map_err(|source| SocketError::Bind { address, source })?;
    if let Some(device) = device {
        bind_device(&socket, device)?;
    }
    if is_v6 {
        SockRef::from(&socket)
            .set_only_v6(true)
            .map_err(|source| SocketError::Bind { address, source })?;
    }
    socket.bind(address).map_err(|source| SocketError::Bind { address, source })?;
    socket.listen(64).map_err(|source| SocketError::Bind { address, source })
}

/// Whether `listener` is bound to an IPv6 address (IPv4 peers then appear
/// v4-mapped when the socket is dual-stack).
pub fn is_v6_listener(listener: &TcpListener) -> bool {
    matches!(listener.local_addr(), Ok(SocketAddr::V6(_)))
}

/// Undoes v4-mapping so that an accepted peer address compares equal to the
/// configured neighbour address.
pub fn canonical_ip(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_struct_has_kernel_layout() {
        assert_eq!(std::mem::size_of::<TcpMd5Sig>(), 216);
    }

    #[test]
    fn canonical_ip_unmaps_v4() {
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(canonical_ip(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(canonical_ip(v6), v6);
    }

    #[test]
    fn long_md5_key_is_rejected_before_the_kernel() {
        let err = set_md5_key(-1, false, "192.0.2.2".parse().unwrap(), &[b'x'; 81]).unwrap_err();
        assert!(matches!(err, SocketError::KeyTooLong { len: 81, .. }));
    }

    #[tokio::test]
    async fn md5_and_gtsm_apply_to_real_loopback_sockets() {
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        set_md5_key(listener.as_raw_fd(), false, "127.0.0.1".parse().unwrap(), b"secret").unwrap();
        let gtsm = TtlSettings { send: 255, minimum: Some(255) };
        apply_ttl(&listener, false, gtsm).unwrap();
        let remote = listener.local_addr().unwrap();
        let options = ConnectOptions {
            remote,
            local_address: Some("127.0.0.1".parse().unwrap()),
            password: Some(b"secret".to_vec()),
            ttl: gtsm,
            device: None,
        };
        let (accepted, connected) = tokio::join!(listener.accept(), connect(&options));
        assert!(accepted.is_ok());
        assert!(connected.is_ok());
    }

    #[tokio::test]
    async fn a_missing_device_is_an_error_naming_it() {
        let address = "127.0.0.1:0".parse().unwrap();
        let err = listen_on(address, Some("ironlb-none0")).unwrap_err();
        let SocketError::Device { device, source } = &err else { panic!("{err}") };
        assert_eq!(device, "ironlb-none0");
        assert_eq!(source.raw_os_error(), Some(libc::ENODEV), "{err}");
        let options = ConnectOptions {
            remote: "127.0.0.1:9".parse().unwrap(),
            local_address: None,
            password: None,
            ttl: TtlSettings { send: 1, minimum: None },
            device: Some("ironlb-none0".into()),
        };
        let err = connect(&options).await.unwrap_err();
        assert!(matches!(err, SocketError::Device { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_device_listener_shares_the_port_of_the_wildcard_one() {
        // `lo` exists everywhere; the loopback connection arrives on it. Both
        // are wildcards: Linux prefers a listener of the exact address first.
        let default = listen("0.0.0.0:0".parse().unwrap()).unwrap();
        let port = default.local_addr().unwrap().port();
        let address = SocketAddr::new("0.0.0.0".parse().unwrap(), port);
        let on_lo = listen_on(address, Some("lo")).unwrap();
        let options = ConnectOptions {
            remote: SocketAddr::new("127.0.0.1".parse().unwrap(), port),
            local_address: None,
            password: None,
            ttl: TtlSettings { send: 64, minimum: None },
            device: Some("lo".into()),
        };
        let stream = connect(&options).await.unwrap();
        let (_, from) = tokio::time::timeout(std::time::Duration::from_secs(5), on_lo.accept())
            .await
            .expect("the device listener gets the connection")
            .unwrap();
        assert_eq!(from, stream.local_addr().unwrap());
    }
}
