//! `bgpctl bfd list` (one line per BFD session, from ListPeers) and the BFD
//! section of `bgpctl neighbor show` (RFC 5880 states and diagnostics,
//! negotiated timers).

use ironlb_proto::bgpd::v1::{BfdState, BfdStatus, ListPeersRequest, ListPeersResponse};

use crate::connect::Api;
use crate::error::CtlError;
use crate::human::{or_dash, yes_no};
use crate::output::{Align, Output, Table, fields};

pub async fn list(api: &mut Api, out: &mut Output) -> Result<(), CtlError> {
    let answer = api.target.call(api.client.list_peers(ListPeersRequest {})).await?;
    let peers: Vec<_> = answer
        .peers
        .into_iter()
        .filter(|peer| peer.status.as_ref().is_some_and(|s| s.bfd.is_some()))
        .collect();
    if out.is_json() {
        return out.json("ListPeersResponse", &ListPeersResponse { peers });
    }
    let mut table = Table::new(&[
        ("Peer", Align::Left),
        ("State", Align::Left),
        ("Remote", Align::Left),
        ("Diagnostic", Align::Left),
        ("TX", Align::Right),
        ("RX", Align::Right),
        ("Detect", Align::Right),
        ("Mode", Align::Left),
        ("BGP", Align::Left),
    ]);
    for peer in &peers {
        let Some(bfd) = peer.status.as_ref().and_then(|s| s.bfd.as_ref()) else { continue };
        let address = peer.config.as_ref().map(|c| c.address.clone()).unwrap_or_default();
        table.row(vec![
            address,
            state(bfd.local_state),
            state(bfd.remote_state),
            diagnostic(bfd),
            micros(bfd.transmit_interval_us),
            micros(receive_interval_us(bfd)),
            micros(bfd.detection_time_us),
            mode(bfd).into(),
            if bfd.bgp_held { "held".into() } else { String::new() },
        ]);
    }
    table.drop_empty_column(8);
    out.text(&table.render())
}

/// The `BFD` section of `neighbor show`.
pub fn detail(bfd: &BfdStatus) -> String {
    let mut pairs = vec![
        ("State", state(bfd.local_state)),
        ("Remote state", state(bfd.remote_state)),
        ("Diagnostic", or_dash(&bfd.local_diagnostic)),
        ("Remote diagnostic", or_dash(&bfd.remote_diagnostic)),
        ("Mode", mode(bfd).into()),
        ("Transmit interval", micros(bfd.transmit_interval_us)),
        ("Receive interval", micros(receive_interval_us(bfd))),
        ("Detection time", micros(bfd.detection_time_us)),
        ("Remote multiplier", or_dash_zero(bfd.remote_multiplier)),
        ("Discriminators", format!("{}/{}", bfd.local_discriminator, bfd.remote_discriminator)),
        ("Control plane independent (C)", yes_no(bfd.remote_control_plane_independent)),
        ("BGP held down", yes_no(bfd.bgp_held)),
    ];
    if !bfd.error.is_empty() {
        pairs.push(("Error", bfd.error.clone()));
    }
    fields(&pairs)
}

fn state(value: i32) -> String {
    match BfdState::try_from(value) {
        Ok(BfdState::Up) => "Up",
        Ok(BfdState::Init) => "Init",
        Ok(BfdState::Down) => "Down",
        Ok(BfdState::AdminDown) => "AdminDown",
        Ok(BfdState::Unspecified) | Err(_) => "-",
    }
    .into()
}

fn mode(bfd: &BfdStatus) -> &'static str {
    if bfd.multihop { "multihop" } else { "single-hop" }
}

/// Our diagnostic, or the error that keeps the session from running.
fn diagnostic(bfd: &BfdStatus) -> String {
    if !bfd.error.is_empty() {
        return format!("error: {}", bfd.error);
    }
    or_dash(&bfd.local_diagnostic)
}

/// The interval the peer sends at: detection time over its multiplier.
fn receive_interval_us(bfd: &BfdStatus) -> u64 {
    bfd.detection_time_us.checked_div(u64::from(bfd.remote_multiplier)).unwrap_or(0)
}

/// Microseconds as milliseconds ("300ms", "12.5ms"); "-" for 0.
fn micros(value: u64) -> String {
    match value {
        0 => "-".into(),
        v if v % 1000 == 0 => format!("{}ms", v / 1000),
        v => format!("{:.1}ms", v as f64 / 1000.0),
    }
}

fn or_dash_zero(value: u32) -> String {
    if value == 0 { "-".into() } else { value.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up() -> BfdStatus {
        BfdStatus {
            local_state: BfdState::Up as i32,
            remote_state: BfdState::Up as i32,
            local_diagnostic: "No Diagnostic".into(),
            remote_diagnostic: "No Diagnostic".into(),
            local_discriminator: 7,
            remote_discriminator: 9,
            transmit_interval_us: 300_000,
            detection_time_us: 600_000,
            remote_multiplier: 3,
            ..BfdStatus::default()
        }
    }

    #[test]
    fn timers_read_in_milliseconds() {
        assert_eq!(micros(300_000), "300ms");
        assert_eq!(micros(12_500), "12.5ms");
        assert_eq!(micros(0), "-");
        assert_eq!(receive_interval_us(&up()), 200_000);
        assert_eq!(receive_interval_us(&BfdStatus::default()), 0);
    }

    #[test]
    fn detail_names_states_timers_and_the_hold() {
        let text = detail(&BfdStatus { bgp_held: true, ..up() });
        for needle in [
            "State:",
            "Up",
            "Transmit interval:",
            "300ms",
            "Receive interval:",
            "200ms",
            "Detection time:",
            "600ms",
            "7/9",
            "single-hop",
        ] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
        assert!(
            text.lines().any(|l| l.starts_with("BGP held down") && l.ends_with("yes")),
            "{text}"
        );
        assert!(!text.contains("Error"));
        let failed = detail(&BfdStatus { error: "bind: in use".into(), ..BfdStatus::default() });
        assert!(failed.contains("bind: in use"), "{failed}");
        assert_eq!(state(BfdState::AdminDown as i32), "AdminDown");
    }
}
