//! The takeover split for `bench-layer2` (issue 6, "gratuitous ARP on the wire within
//! 10 ms of the takeover decision"): the successor speaker logs the moment its failover
//! decides to announce an address (`layer2: announcing`, field `decided_unix_us`, wall
//! clock), and `tcpdump -e -tt -n -l arp` in the client's namespace prints when the first
//! gratuitous ARP (RFC 5227 §3: a request whose sender and target are the address, or a
//! reply for it) from the successor's MAC reached the client. Both clocks are the same
//! host's `CLOCK_REALTIME`, so the difference is the path speaker → gRPC → bgpd → raw
//! socket → wire.
//!
//! The parsers take the whole text each time (a bench, not a hot path) and ignore lines
//! they do not understand, ANSI colour codes included.

/// The first takeover decision for `address` at or after `since_us` in a speaker's log.
pub fn decision(log: &str, address: &str, since_us: u128) -> Option<u128> {
    log.lines()
        .filter(|line| line.contains("layer2: announcing") && has_word(line, address))
        .filter_map(|line| {
            let (_, rest) = line.split_once("decided_unix_us")?;
            let rest = plain(rest);
            let digits: String =
                rest.strip_prefix('=')?.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .find(|at| *at >= since_us)
}

/// The capture time of the first gratuitous ARP for `address` sent by `mac` at or after
/// `since_us`, from `tcpdump -e -tt -n -l arp` output.
pub fn first_garp(capture: &str, mac: &str, address: &str, since_us: u128) -> Option<u128> {
    capture
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let at = timestamp(words.next()?)?;
            let source = words.next()?;
            if !source.eq_ignore_ascii_case(mac) {
                return None;
            }
            let (_, arp) = line.split_once(": ")?;
            let request = format!("Request who-has {address} tell {address},");
            let reply = format!("Reply {address} is-at ");
            (arp.starts_with(&request) || arp.starts_with(&reply)).then_some(at)
        })
        .find(|at| *at >= since_us)
}

/// `text` without ANSI colour sequences (`ESC [ ... letter`).
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `1764136000.123456` → microseconds.
fn timestamp(text: &str) -> Option<u128> {
    let (seconds, fraction) = text.split_once('.')?;
    if fraction.len() != 6 {
        return None;
    }
    Some(seconds.parse::<u128>().ok()? * 1_000_000 + fraction.parse::<u128>().ok()?)
}

/// `word` appears in `line` not as part of a longer address (`.6` is not `.64`).
fn has_word(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(at, _)| {
        let after = line[at + word.len()..].chars().next();
        !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == ':')
    })
}

/// Now, in microseconds since the Unix epoch.
pub fn unix_micros() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: &str = "aa:bb:cc:00:00:02";

    #[test]
    fn the_decision_is_read_through_colour_codes() {
        let log = "2026-11-26T06:00:00.000001Z  INFO k8s_adapter: layer2: announcing address=198.51.100.6 decided_unix_us=10\n\
            \x1b[2m2026\x1b[0m  INFO layer2: announcing \x1b[3maddress\x1b[0m\x1b[2m=\x1b[0m198.51.100.64 \x1b[3mdecided_unix_us\x1b[0m\x1b[2m=\x1b[0m1500\n\
            INFO layer2: announcing address=198.51.100.64 decided_unix_us=2500";
        assert_eq!(decision(log, "198.51.100.64", 1000), Some(1500));
        assert_eq!(decision(log, "198.51.100.64", 2000), Some(2500));
        assert_eq!(decision(log, "198.51.100.64", 3000), None);
        assert_eq!(decision(log, "198.51.100.6", 0), Some(10));
    }

    #[test]
    fn the_first_gratuitous_arp_from_the_mac_counts() {
        let capture = "tcpdump: listening on eth0\n\
            1764136000.000100 aa:bb:cc:00:00:02 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 198.51.100.64 tell 198.51.100.64, length 28\n\
            1764136001.000200 aa:bb:cc:00:00:09 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 198.51.100.64 tell 198.51.100.64, length 28\n\
            1764136001.000300 aa:bb:cc:00:00:02 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 198.51.100.1 tell 198.51.100.64, length 28\n\
            1764136001.000400 aa:bb:cc:00:00:02 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Reply 198.51.100.64 is-at aa:bb:cc:00:00:02, length 28\n";
        let since = 1_764_136_001_000_000;
        assert_eq!(first_garp(capture, MAC, "198.51.100.64", 0), Some(1_764_136_000_000_100));
        assert_eq!(first_garp(capture, MAC, "198.51.100.64", since), Some(1_764_136_001_000_400));
        assert_eq!(first_garp(capture, MAC, "198.51.100.6", 0), None);
    }
}
