//! Short human forms of the API's values for tables: durations as routers
//! print them, enum values without their `TYPE_` prefixes, and the command
//! line's choices as API enums.

use ironlb_proto::bgpd::v1::{
    DynamicAsn, Family, Origin, OwnerState, PathOutcome, PathSource, PeerConfig, SessionState,
    path_source,
};

use crate::cli::{DynamicAsnArg, FamilyArg, OriginArg};

/// A duration as `vtysh` shows up/down times: "00:04:07" under a day,
/// "3d04h07m" under a week, "5w2d04h" beyond.
pub fn duration(seconds: u64) -> String {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    const WEEK: u64 = 7 * DAY;
    if seconds < DAY {
        format!("{:02}:{:02}:{:02}", seconds / HOUR, seconds % HOUR / MINUTE, seconds % MINUTE)
    } else if seconds < WEEK {
        format!("{}d{:02}h{:02}m", seconds / DAY, seconds % DAY / HOUR, seconds % HOUR / MINUTE)
    } else {
        format!("{}w{}d{:02}h", seconds / WEEK, seconds % WEEK / DAY, seconds % DAY / HOUR)
    }
}

/// "Established", "OpenSent", ...
pub fn state(value: i32) -> String {
    match SessionState::try_from(value) {
        Ok(SessionState::Idle) => "Idle".into(),
        Ok(SessionState::Connect) => "Connect".into(),
        Ok(SessionState::Active) => "Active".into(),
        Ok(SessionState::OpenSent) => "OpenSent".into(),
        Ok(SessionState::OpenConfirm) => "OpenConfirm".into(),
        Ok(SessionState::Established) => "Established".into(),
        Ok(SessionState::Unspecified) => "-".into(),
        Err(_) => format!("state {value}"),
    }
}

/// "ipv4", "ipv6".
pub fn family(value: i32) -> String {
    match Family::try_from(value) {
        Ok(Family::Ipv4Unicast) => "ipv4".into(),
        Ok(Family::Ipv6Unicast) => "ipv6".into(),
        Ok(Family::Unspecified) => "-".into(),
        Err(_) => format!("family {value}"),
    }
}

/// Families as a comma-separated list, "-" when empty.
pub fn families(values: &[i32]) -> String {
    if values.is_empty() {
        return "-".into();
    }
    values.iter().map(|value| family(*value)).collect::<Vec<_>>().join(", ")
}

/// The origin code routers print after the AS path: "i", "e", "?".
pub fn origin_code(value: i32) -> &'static str {
    match Origin::try_from(value) {
        Ok(Origin::Egp) => "e",
        Ok(Origin::Incomplete) => "?",
        _ => "i",
    }
}

/// "owner bgpctl", "peer 192.0.2.2", "config".
pub fn source(source: Option<&PathSource>) -> String {
    match source.and_then(|source| source.source.as_ref()) {
        Some(path_source::Source::Owner(owner)) => format!("owner {owner}"),
        Some(path_source::Source::Peer(peer)) => format!("peer {peer}"),
        Some(path_source::Source::Config(_)) => "config".into(),
        None => "-".into(),
    }
}

/// "added", "withdrawn", ...
pub fn outcome(value: i32) -> String {
    match PathOutcome::try_from(value) {
        Ok(PathOutcome::Added) => "added".into(),
        Ok(PathOutcome::Changed) => "changed".into(),
        Ok(PathOutcome::Unchanged) => "unchanged".into(),
        Ok(PathOutcome::Withdrawn) => "withdrawn".into(),
        Ok(PathOutcome::NotFound) => "not found".into(),
        Ok(PathOutcome::Rejected) => "rejected".into(),
        Ok(PathOutcome::Unspecified) => "-".into(),
        Err(_) => format!("outcome {value}"),
    }
}

/// "attached", "detached", "unleased".
pub fn owner_state(value: i32) -> String {
    match OwnerState::try_from(value) {
        Ok(OwnerState::Attached) => "attached".into(),
        Ok(OwnerState::Detached) => "detached".into(),
        Ok(OwnerState::Unleased) => "unleased".into(),
        Ok(OwnerState::Unspecified) => "-".into(),
        Err(_) => format!("state {value}"),
    }
}

/// "yes" / "no".
pub fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.into()
}

/// "-" for an empty string.
pub fn or_dash(text: &str) -> String {
    if text.is_empty() { "-".into() } else { text.into() }
}

/// The API enum of `--dynamic-asn`.
pub fn dynamic_asn_arg(value: Option<DynamicAsnArg>) -> DynamicAsn {
    match value {
        None => DynamicAsn::Unspecified,
        Some(DynamicAsnArg::Internal) => DynamicAsn::Internal,
        Some(DynamicAsnArg::External) => DynamicAsn::External,
    }
}

/// The remote AS as shown: the number, or how a dynamic one is accepted (with the AS
/// learned from the OPEN once there is one).
pub fn remote_as(config: &PeerConfig, learned: u32) -> String {
    let kind = match DynamicAsn::try_from(config.dynamic_asn) {
        Ok(DynamicAsn::Internal) => "internal",
        Ok(DynamicAsn::External) => "external",
        _ => return config.remote_asn.to_string(),
    };
    if learned == 0 { kind.to_owned() } else { format!("{learned} ({kind})") }
}

/// The API enum of `--family`.
pub fn family_arg(value: FamilyArg) -> Family {
    match value {
        FamilyArg::Ipv4 => Family::Ipv4Unicast,
        FamilyArg::Ipv6 => Family::Ipv6Unicast,
    }
}

/// The API enum of `--origin`.
pub fn origin_arg(value: OriginArg) -> Origin {
    match value {
        OriginArg::Igp => Origin::Igp,
        OriginArg::Egp => Origin::Egp,
        OriginArg::Incomplete => Origin::Incomplete,
    }
}

/// How a neighbour is shown: its address, or for a neighbour over an
/// interface the address found there with the interface (`fe80::2%eth1`),
/// `%eth1` while none is found (the name later commands take).
pub fn neighbor_name(config: &PeerConfig) -> String {
    match (config.interface.as_str(), config.address.as_str()) {
        ("", address) => address.to_string(),
        (interface, "" | "::") => format!("%{interface}"),
        (interface, address) => format!("{address}%{interface}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_router_uptimes() {
        assert_eq!(duration(0), "00:00:00");
        assert_eq!(duration(3_723), "01:02:03");
        assert_eq!(duration(86_400 + 3_660), "1d01h01m");
        assert_eq!(duration(8 * 86_400 + 7_200), "1w1d02h");
        assert!(!duration(u64::MAX).is_empty());
    }

    #[test]
    fn unknown_enum_values_are_shown_not_dropped() {
        assert_eq!(state(6), "Established");
        assert_eq!(state(99), "state 99");
        assert_eq!(family(2), "ipv6");
        assert_eq!(families(&[1, 2]), "ipv4, ipv6");
        assert_eq!(outcome(42), "outcome 42");
    }

    #[test]
    fn an_interface_neighbor_is_shown_with_its_interface() {
        let peer = |address: &str, interface: &str| PeerConfig {
            address: address.into(),
            interface: interface.into(),
            ..PeerConfig::default()
        };
        assert_eq!(neighbor_name(&peer("192.0.2.2", "")), "192.0.2.2");
        assert_eq!(neighbor_name(&peer("::", "eth1")), "%eth1");
        assert_eq!(neighbor_name(&peer("fe80::2", "eth1")), "fe80::2%eth1");
    }
}
