//! BFD coupled to BGP, end to end between two `bgpd` on loopback (A on
//! 127.0.0.1, B on 127.0.0.2, each BFD thread bound to its own address):
//! the sessions come Up with different timers on each side and `bfd list`,
//! `neighbor show` and GetPeer report the negotiated ones; when B freezes
//! (SIGSTOP), A's BFD detects it within its detection time and takes BGP
//! down with Cease/BFD Down (RFC 9384), holding it until BFD is back Up after
//! SIGCONT.

mod bgpctl_support;

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

use bgpctl_support::{
    Daemon, api, field, free_port_on, scratch_directory, start_config, text_until,
};

fn signal(daemon: &Daemon, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &daemon.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} failed");
}

/// Continues a stopped daemon even when an assertion fails, so its Drop
/// can kill it.
struct Continue<'a>(&'a Daemon);

impl Drop for Continue<'_> {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.0.pid().to_string()]).status();
    }
}

fn config(asn: u32, me: &str, port: u16, peer: &str, peer_port: u16, bfd: &str) -> String {
    format!(
        "[global]\nasn = {asn}\nrouter_id = \"192.0.2.{asn_low}\"\nlisten_port = {port}\n\
         listen_addresses = [\"{me}\"]\nstate_dir = {state:?}\n\
         [[neighbors]]\naddress = \"{peer}\"\nremote_asn = {peer_asn}\nport = {peer_port}\n\
         local_address = \"{me}\"\nhold_time = 30\n[neighbors.bfd]\nenabled = true\n{bfd}",
        asn_low = asn - 65000,
        state = scratch_directory().join("state"),
        peer_asn = if asn == 65001 { 65002 } else { 65001 },
    )
}

#[test]
fn bfd_comes_up_negotiates_and_takes_bgp_down_when_the_peer_freezes() {
    let b_address = Ipv4Addr::new(127, 0, 0, 2);
    let a_port = free_port_on(Ipv4Addr::LOCALHOST);
    let b_port = free_port_on(b_address);
    // A wants packets every 100 ms and sends every 50 ms; B asks for 200 ms.
    let a_config = config(
        65001,
        "127.0.0.1",
        a_port,
        "127.0.0.2",
        b_port,
        "min_rx_ms = 100\nmin_tx_ms = 50\nmultiplier = 3\n",
    );
    let b_config = config(
        65002,
        "127.0.0.2",
        b_port,
        "127.0.0.1",
        a_port,
        "min_rx_ms = 200\nmin_tx_ms = 200\nmultiplier = 4\n",
    );
    let a = start_config(scratch_directory(), &a_config, &api());
    let b = start_config(scratch_directory(), &b_config, &api());

    let list = ["bfd", "list"];
    let up = text_until(&a, "BFD Up", &list, |text| {
        text.lines()
            .any(|l| l.starts_with("127.0.0.2") && l.contains(" Up ") && l.contains("200ms"))
    });
    // A sends at max(its 50, B's required 200) = 200 ms; B sends at
    // max(200, A's 100) = 200 ms and detection is B's multiplier 4 x 200.
    let row = up.lines().find(|l| l.starts_with("127.0.0.2")).expect("row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[..4], ["127.0.0.2", "Up", "Up", "No"], "{up}");
    assert!(row.contains("200ms") && row.contains("800ms"), "{up}");

    let show = ["neighbor", "show", "127.0.0.2"];
    let detail = text_until(&a, "Established", &show, |text| text.contains("Established"));
    assert_eq!(field(&detail, "Transmit interval"), Some("200ms"), "{detail}");
    assert_eq!(field(&detail, "Detection time"), Some("800ms"), "{detail}");
    assert_eq!(field(&detail, "Mode"), Some("single-hop"), "{detail}");
    let json = a.json(&show);
    let bfd = &json["peer"]["status"]["bfd"];
    assert_eq!(bfd["localState"], "BFD_STATE_UP", "{json}");
    assert_eq!(bfd["detectionTimeUs"], "800000", "{json}");
    assert_eq!(json["peer"]["config"]["bfd"]["minRxMs"], 100, "{json}");

    // B freezes: no more BFD packets. A's BFD notices within 800 ms (plus
    // polling), long before the 30 s hold time, and stops BGP with
    // Cease/BFD Down.
    signal(&b, "STOP");
    let frozen = Continue(&b);
    let started = Instant::now();
    let down = text_until(&a, "BGP down by BFD", &show, |text| {
        !text.contains("Established") && text.contains("BFD Down")
    });
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(field(&down, "BGP held down"), Some("yes"), "{down}");
    assert!(field(&down, "Diagnostic").is_some_and(|d| d.contains("Detection")), "{down}");

    // B continues: BFD comes back Up and releases BGP.
    drop(frozen);
    let back = text_until(&a, "BGP back", &show, |text| text.contains("Established"));
    assert_eq!(field(&back, "BGP held down"), Some("no"), "{back}");
}
