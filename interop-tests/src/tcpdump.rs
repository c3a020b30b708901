//! Packet capture of BGP sessions inside a namespace, read back as BGP messages.
//!
//! Used for golden vectors, for counting UPDATE messages (benchmark), and for checking TCP MD5
//! signatures (RFC 2385): `tcpdump -M SECRET -v` prints `md5 valid` for a good signature.
//! The pcap file is parsed here (Ethernet, IPv4/IPv6, TCP), each direction's byte stream is
//! reassembled by sequence number and cut into messages by the BGP header's length (RFC 4271
//! §4.1).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::netns::{Namespace, Process};
use crate::{HarnessError, Result, TempDir, require_program, wait_until};

/// BGP message type codes (RFC 4271 §4.1).
pub const OPEN: u8 = 1;
pub const UPDATE: u8 = 2;
pub const NOTIFICATION: u8 = 3;
pub const KEEPALIVE: u8 = 4;

/// One BGP message as seen on the wire, header included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedMessage {
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
}

impl CapturedMessage {
    /// The type octet (1 OPEN, 2 UPDATE, 3 NOTIFICATION, 4 KEEPALIVE, 5 ROUTE-REFRESH).
    pub fn kind(&self) -> u8 {
        self.bytes.get(18).copied().unwrap_or(0)
    }

    /// Path attributes of an UPDATE as (type code, value), RFC 4271 §4.3; empty otherwise or
    /// when the message is malformed.
    pub fn path_attributes(&self) -> Vec<(u8, Vec<u8>)> {
        let mut attributes = Vec::new();
        if self.kind() != UPDATE {
            return attributes;
        }
        let body = self.bytes.get(19..).unwrap_or_default();
        let Some(withdrawn) = body.get(..2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            return attributes;
        };
        let at = 2 + withdrawn;
        let Some(total) =
            body.get(at..at + 2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            return attributes;
        };
        let mut rest = body.get(at + 2..at + 2 + total).unwrap_or_default();
        while let [flags, code, tail @ ..] = rest {
            let extended = flags & 0x10 != 0;
            let (length, header) = match (extended, tail) {
                (true, [high, low, ..]) => (usize::from(u16::from_be_bytes([*high, *low])), 2),
                (false, [length, ..]) => (usize::from(*length), 1),
                _ => break,
            };
            let Some(value) = tail.get(header..header + length) else {
                break;
            };
            attributes.push((*code, value.to_vec()));
            rest = &tail[header + length..];
        }
        attributes
    }

    /// (error code, subcode) when this is a NOTIFICATION (RFC 4271 §4.5).
    pub fn notification(&self) -> Option<(u8, u8)> {
        (self.kind() == NOTIFICATION)
            .then(|| Some((*self.bytes.get(19)?, *self.bytes.get(20)?)))
            .flatten()
    }
}

/// A running `tcpdump` writing a pcap file; stopped (and its file kept until drop) by
/// [`Capture::stop`].
#[derive(Debug)]
pub struct Capture {
    process: Option<Process>,
    dir: TempDir,
}

impl Capture {
    /// Captures `tcp port 179` on `interface` inside `namespace`; returns once tcpdump listens.
    pub fn start(namespace: &Namespace, interface: &str) -> Result<Self> {
        let program = require_program("tcpdump", "tcpdump")?;
        let dir = TempDir::new("pcap")?;
        let file = dir.join("capture.pcap");
        let args = [
            "-i".to_owned(),
            interface.to_owned(),
            "-U".to_owned(),
            "--immediate-mode".to_owned(),
            "-s".to_owned(),
            "0".to_owned(),
            "-w".to_owned(),
            file.display().to_string(),
            "tcp port 179".to_owned(),
        ];
        let log = dir.join("tcpdump.log");
        let mut process = namespace.spawn("tcpdump", &program, &args, &log)?;
        wait_until(
            "tcpdump to listen",
            Duration::from_secs(10),
            Duration::from_millis(50),
            || {
                if let Err(error) = process.check_running() {
                    return Some(Err(error));
                }
                std::fs::read_to_string(&log)
                    .ok()
                    .filter(|t| t.contains("listening on"))
                    .map(|_| Ok(()))
            },
            || crate::tail(&log, 10),
        )??;
        Ok(Self { process: Some(process), dir })
    }

    pub fn file(&self) -> PathBuf {
        self.dir.join("capture.pcap")
    }

    /// Stops tcpdump (SIGINT flushes the file).
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut process) = self.process.take() {
            process.stop_with(libc::SIGINT, Duration::from_secs(5))?;
        }
        Ok(())
    }

    /// Every BGP message in the capture, in stream order per direction.
    pub fn messages(&mut self) -> Result<Vec<CapturedMessage>> {
        self.stop()?;
        let file = self.file();
        let bytes = std::fs::read(&file).map_err(|source| HarnessError::Io {
            command: format!("read {}", file.display()),
            source,
        })?;
        Ok(bgp_messages(&bytes))
    }

    /// The BGP messages captured so far, tcpdump still running (it flushes every packet).
    pub fn messages_so_far(&self) -> Result<Vec<CapturedMessage>> {
        let file = self.file();
        let bytes = std::fs::read(&file).map_err(|source| HarnessError::Io {
            command: format!("read {}", file.display()),
            source,
        })?;
        Ok(bgp_messages(&bytes))
    }

    /// True when tcpdump validates the MD5 signature of the captured segments with `secret`
    /// (at least one `md5valid` and no `md5invalid`).
    pub fn md5_valid(&mut self, secret: &str) -> Result<bool> {
        self.stop()?;
        let file = self.file().display().to_string();
        let out = crate::netns::run("tcpdump", ["-n", "-v", "-M", secret, "-r", file.as_str()])?;
        let text = String::from_utf8_lossy(&out.stdout);
        // tcpdump 4.99 prints `md5 valid`, older releases `md5valid`.
        let valid = text.contains("md5 valid") || text.contains("md5valid");
        let invalid = text.contains("md5 invalid") || text.contains("md5invalid");
        Ok(valid && !invalid)
    }
}

type Flow = (SocketAddr, SocketAddr);

/// Parses a classic pcap (Ethernet link type) into BGP messages per TCP direction.
pub fn bgp_messages(pcap: &[u8]) -> Vec<CapturedMessage> {
    let mut flows: BTreeMap<Flow, Vec<(u32, Vec<u8>)>> = BTreeMap::new();
    let mut order: Vec<Flow> = Vec::new();
    for frame in pcap_frames(pcap) {
        if let Some((flow, seq, payload)) = tcp_segment(frame)
            && !payload.is_empty()
        {
            if !flows.contains_key(&flow) {
                order.push(flow);
            }
            flows.entry(flow).or_default().push((seq, payload.to_vec()));
        }
    }
    let mut messages = Vec::new();
    for flow in order {
        let Some(mut segments) = flows.remove(&flow) else {
            continue;
        };
        let stream = reassemble(&mut segments);
        let mut rest = stream.as_slice();
        while rest.len() >= 19 {
            let length = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
            if length < 19 || rest.len() < length {
                break;
            }
            messages.push(CapturedMessage {
                from: flow.0,
                to: flow.1,
                bytes: rest[..length].to_vec(),
            });
            rest = &rest[length..];
        }
    }
    messages
}

/// Joins segments by sequence number (relative to the first), skipping retransmitted bytes.
fn reassemble(segments: &mut [(u32, Vec<u8>)]) -> Vec<u8> {
    let Some(first) = segments.iter().map(|(seq, _)| *seq).next() else {
        return Vec::new();
    };
    segments.sort_by_key(|(seq, _)| seq.wrapping_sub(first));
    let mut stream = Vec::new();
    for (seq, payload) in segments.iter() {
        let offset = usize::try_from(seq.wrapping_sub(first)).unwrap_or(usize::MAX);
        if offset > stream.len() {
            break; // a gap: the capture missed bytes, stop at what is certain
        }
        let skip = stream.len() - offset;
        if skip < payload.len() {
            stream.extend_from_slice(&payload[skip..]);
        }
    }
    stream
}

fn pcap_frames(pcap: &[u8]) -> Vec<&[u8]> {
    let mut frames = Vec::new();
    let Some(magic) = pcap.get(..4) else {
        return frames;
    };
    let little = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return frames,
    };
    let read_u32 = |b: &[u8]| -> usize {
        let array = [b[0], b[1], b[2], b[3]];
        let value = if little { u32::from_le_bytes(array) } else { u32::from_be_bytes(array) };
        usize::try_from(value).unwrap_or(usize::MAX)
    };
    let mut at = 24;
    while let Some(header) = pcap.get(at..at + 16) {
        let captured = read_u32(&header[8..12]);
        let Some(frame) = pcap.get(at + 16..(at + 16).saturating_add(captured)) else {
            break;
        };
        frames.push(frame);
        at += 16 + captured;
    }
    frames
}

fn tcp_segment(frame: &[u8]) -> Option<(Flow, u32, &[u8])> {
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    let ip = frame.get(14..)?;
    let (src, dst, tcp) = match ethertype {
        0x0800 => {
            let header = usize::from(ip.first()? & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
            if *ip.get(9)? != 6 {
                return None;
            }
            let src: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            let end = if total == 0 { ip.len() } else { total.min(ip.len()) };
            (IpAddr::from(src), IpAddr::from(dst), ip.get(header..end)?)
        }
        0x86dd => {
            if *ip.get(6)? != 6 {
                return None; // extension headers do not appear on these links
            }
            let length = usize::from(u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]));
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            let end = (40 + length).min(ip.len());
            (IpAddr::from(src), IpAddr::from(dst), ip.get(40..end)?)
        }
        _ => return None,
    };
    let source_port = u16::from_be_bytes([*tcp.first()?, *tcp.get(1)?]);
    let destination_port = u16::from_be_bytes([*tcp.get(2)?, *tcp.get(3)?]);
    let seq = u32::from_be_bytes(tcp.get(4..8)?.try_into().ok()?);
    let offset = usize::from(tcp.get(12)? >> 4) * 4;
    Some((
        (SocketAddr::new(src, source_port), SocketAddr::new(dst, destination_port)),
        seq,
        tcp.get(offset..)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keepalive() -> Vec<u8> {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&[0, 19, 4]);
        m
    }

    fn frame(seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let total = u16::try_from(20 + 20 + payload.len()).unwrap_or(0);
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&ip);
        let mut tcp = vec![0xc3, 0x50, 0, 179];
        tcp.extend_from_slice(&seq.to_be_bytes());
        tcp.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x18, 0, 0, 0, 0, 0, 0]);
        f.extend_from_slice(&tcp);
        f.extend_from_slice(payload);
        f
    }

    fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut p = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        p.extend_from_slice(&[0; 8]);
        p.extend_from_slice(&262_144u32.to_le_bytes());
        p.extend_from_slice(&1u32.to_le_bytes());
        for f in frames {
            let len = u32::try_from(f.len()).unwrap_or(0);
            p.extend_from_slice(&[0; 8]);
            p.extend_from_slice(&len.to_le_bytes());
            p.extend_from_slice(&len.to_le_bytes());
            p.extend_from_slice(f);
        }
        p
    }

    #[test]
    fn reassembles_messages_split_across_segments_and_retransmits() {
        let two: Vec<u8> = [keepalive(), keepalive()].concat();
        let frames = [
            frame(1000, &two[..10]),
            frame(1010, &two[10..30]),
            frame(1010, &two[10..30]),
            frame(1030, &two[30..]),
        ];
        let messages = bgp_messages(&pcap(&frames));
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].kind(), 4);
        assert_eq!(messages[1].from.port(), 50000);
    }
}
