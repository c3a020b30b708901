//! `bgpctl neighbor show ADDR` for people: configuration, session state,
//! capabilities both ways, counters and the last NOTIFICATIONs, in "Label:
//! value" blocks and small tables (the `show bgp neighbor` of routers).

use ironlb_proto::bgpd::v1::{
    Capabilities, GracefulRestartStatus, MaxPrefixConfig, MaxPrefixStatus, MessageCounters,
    NotificationInfo, Peer, PeerConfig, PeerPolicyStatus, PeerStatus, PrefixCounters,
};

use crate::human::{self, families, or_dash, yes_no};
use crate::output::{Align, Table, fields};

/// The whole detailed view: the summary block, then one titled section each
/// for the configuration, capabilities, graceful restart, messages, prefixes
/// (when there are any) and the last NOTIFICATIONs.
pub fn render(peer: &Peer) -> String {
    let config = peer.config.clone().unwrap_or_default();
    let status = peer.status.clone().unwrap_or_default();
    let mut text = summary(&config, &status);
    section(&mut text, "Configuration", &configuration(&config));
    section(
        &mut text,
        "Capabilities",
        &capabilities(status.local_capabilities.as_ref(), status.remote_capabilities.as_ref()),
    );
    section(&mut text, "Graceful restart", &graceful_restart(status.graceful_restart.as_ref()));
    if let Some(bfd) = &status.bfd {
        section(&mut text, "BFD", &crate::bfd::detail(bfd));
    }
    section(&mut text, "Policy", &policy(&config, status.policy.as_ref()));
    if let (Some(limits), Some(state)) = (&config.max_prefix, &status.max_prefix) {
        section(&mut text, "Max prefixes", &max_prefix(limits, state));
    }
    section(
        &mut text,
        "Messages",
        &messages(status.messages_sent.as_ref(), status.messages_received.as_ref()),
    );
    if !status.prefixes.is_empty() {
        section(&mut text, "Prefixes", &prefixes(&status.prefixes));
    }
    section(
        &mut text,
        "Last NOTIFICATION",
        &fields(&[
            ("Sent", notification(status.last_notification_sent.as_ref())),
            ("Received", notification(status.last_notification_received.as_ref())),
        ]),
    );
    text
}

/// Appends a blank line, the section's title and its body indented.
fn section(text: &mut String, title: &str, body: &str) {
    text.push('\n');
    text.push_str(title);
    text.push('\n');
    text.push_str(&indent(body));
}

/// A configured value in seconds, or "default" when the neighbor has none.
fn seconds_or_default(value: Option<u32>) -> String {
    value.map_or("default".to_string(), |v| format!("{v}s"))
}

/// A configured number where 0 means the default.
fn zero_default(value: u32) -> String {
    if value == 0 { "default".to_string() } else { value.to_string() }
}

/// The heading line and the session block under it: state, endpoints and
/// what was negotiated against what is configured.
fn summary(config: &PeerConfig, status: &PeerStatus) -> String {
    let mut state = human::state(status.state);
    if status.admin_down {
        state.push_str(" (administratively down");
        if !status.admin_down_message.is_empty() {
            state.push_str(&format!(": {:?}", status.admin_down_message));
        }
        state.push(')');
    }
    let remote = human::remote_as(config, status.remote_asn);
    let mut text = format!("Neighbor {}, remote AS {remote}\n", human::neighbor_name(config));
    text.push_str(&indent(&fields(&[
        ("Description", or_dash(&config.description)),
        ("State", state),
        (
            "Up for",
            if status.uptime_seconds > 0 {
                human::duration(status.uptime_seconds)
            } else {
                "-".into()
            },
        ),
        ("In state for", human::duration(status.state_age_seconds)),
        ("Flaps", status.flaps.to_string()),
        ("Last error", or_dash(&status.last_error)),
        ("Device error", or_dash(&status.device_error)),
        ("Local endpoint", or_dash(&status.local_endpoint)),
        ("Remote endpoint", or_dash(&status.remote_endpoint)),
        ("Remote router ID", or_dash(&status.remote_router_id)),
        (
            "Remote AS (OPEN)",
            if status.remote_asn == 0 { "-".into() } else { status.remote_asn.to_string() },
        ),
        (
            "Hold time",
            format!(
                "{}s negotiated, {} configured",
                status.hold_time_seconds,
                seconds_or_default(config.hold_time_seconds)
            ),
        ),
        (
            "Keepalive",
            format!(
                "{}s in use, {} configured",
                status.keepalive_seconds,
                seconds_or_default(config.keepalive_seconds)
            ),
        ),
        (
            "Families",
            format!(
                "{} negotiated, {} configured",
                families(&status.families),
                families(&config.families)
            ),
        ),
    ])));
    text
}

/// The neighbor's configuration, defaults spelt out.
fn configuration(config: &PeerConfig) -> String {
    fields(&[
        ("Local AS", zero_default(config.local_asn)),
        (
            "Router ID",
            if config.router_id.is_empty() { "default".into() } else { config.router_id.clone() },
        ),
        ("Port", if config.port == 0 { "179".into() } else { config.port.to_string() }),
        ("Local address", or_dash(&config.local_address)),
        ("VRF", if config.vrf.is_empty() { "none (default)".into() } else { config.vrf.clone() }),
        ("Passive", yes_no(config.passive)),
        ("Password", yes_no(config.password_set)),
        ("Connect retry", seconds_or_default(config.connect_retry_seconds)),
        ("Multihop TTL", zero_default(config.multihop_ttl)),
        (
            "TTL security",
            if config.ttl_security_hops == 0 {
                "off".into()
            } else {
                format!("{} hops", config.ttl_security_hops)
            },
        ),
        ("Max prefixes", max_prefix_limits(config)),
        ("Disabled", yes_no(config.disabled)),
        ("Enforce first AS", yes_no(config.enforce_first_as.unwrap_or(true))),
        (
            "Graceful restart",
            config.graceful_restart.as_ref().map_or("off".into(), |gr| {
                if gr.enabled {
                    if gr.helper_only { "helper only".into() } else { "on".into() }
                } else {
                    "off".into()
                }
            }),
        ),
    ])
}

/// The chains, what RFC 8212 blocks, and the import and export counters.
fn policy(config: &PeerConfig, status: Option<&PeerPolicyStatus>) -> String {
    let default = PeerPolicyStatus::default();
    let status = status.unwrap_or(&default);
    let chain = |names: &[String], blocked: bool, what: &str| match (names.is_empty(), blocked) {
        (_, true) => format!("none: RFC 8212 blocks it, no route is {what}"),
        (true, false) => "none: everything".to_string(),
        (false, false) => names.join(", "),
    };
    fields(&[
        ("Import", chain(&config.import_policy, status.import_blocked, "accepted")),
        ("Export", chain(&config.export_policy, status.export_blocked, "sent")),
        (
            "Imported",
            format!(
                "{} accepted ({} modified), {} rejected",
                status.import_accepted, status.import_modified, status.import_rejected
            ),
        ),
        (
            "Exported",
            format!(
                "{} accepted ({} modified), {} rejected",
                status.export_accepted, status.export_modified, status.export_rejected
            ),
        ),
    ])
}

/// The limits in one line ("ipv4 1000, ipv6 200"), or "no limit".
fn max_prefix_limits(config: &PeerConfig) -> String {
    let Some(m) = &config.max_prefix else {
        return match config.max_prefixes {
            0 => "no limit".into(),
            n => n.to_string(),
        };
    };
    let mut parts = Vec::new();
    for (name, limit) in [("ipv4", m.ipv4_unicast), ("ipv6", m.ipv6_unicast)] {
        if limit != 0 {
            parts.push(format!("{name} {limit}"));
        }
    }
    parts.join(", ")
}

/// The max-prefix section: the settings and whether the limit holds the
/// session down.
fn max_prefix(limits: &MaxPrefixConfig, state: &MaxPrefixStatus) -> String {
    let held = if state.held {
        let restart = if state.restart_in_seconds == 0 {
            "until `neighbor enable` or `neighbor reset`".to_string()
        } else {
            format!("restarts in {}", human::duration(state.restart_in_seconds))
        };
        format!(
            "yes: {} {} accepted, limit {}; {restart}",
            families(&[state.family]),
            state.count,
            state.limit
        )
    } else {
        "no".into()
    };
    fields(&[
        ("Warning at", format!("{}%", limits.warning_percent.unwrap_or(75))),
        (
            "On excess",
            if limits.warning_only {
                "warn only".into()
            } else if limits.restart_time_seconds == 0 {
                "stop; stay down".into()
            } else {
                format!("stop; restart after {}s", limits.restart_time_seconds)
            },
        ),
        ("Held down", held),
        ("Over the limit", or_dash(&families(&state.exceeded))),
        ("Teardowns", state.teardowns.to_string()),
    ])
}

/// Prefix counters, one row per family.
fn prefixes(counters: &[PrefixCounters]) -> String {
    let mut table = Table::new(&[
        ("Family", Align::Left),
        ("Received", Align::Right),
        ("Accepted", Align::Right),
        ("Advertised", Align::Right),
        ("Withdrawn in", Align::Right),
        ("Withdrawn out", Align::Right),
    ]);
    for counters in counters {
        table.row(vec![
            human::family(counters.family),
            counters.received.to_string(),
            counters.accepted.to_string(),
            counters.advertised.to_string(),
            counters.withdrawals_received.to_string(),
            counters.withdrawals_sent.to_string(),
        ]);
    }
    let mut text = table.render();
    for counters in counters.iter().filter(|c| c.unsendable > 0) {
        text.push_str(&format!(
            "{} {} prefixes not advertised: too large for one UPDATE the peer accepts (see the log)\n",
            counters.unsendable,
            human::family(counters.family),
        ));
    }
    text
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

/// Capabilities side by side: what we sent, what the peer sent.
fn capabilities(local: Option<&Capabilities>, remote: Option<&Capabilities>) -> String {
    if local.is_none() && remote.is_none() {
        return "none exchanged yet\n".into();
    }
    let local = local.cloned().unwrap_or_default();
    let remote = remote.cloned().unwrap_or_default();
    let mut table = Table::new(&[
        ("Capability", Align::Left),
        ("Sent", Align::Left),
        ("Received", Align::Left),
    ]);
    let mut row = |name: &str, show: &dyn Fn(&Capabilities) -> String| {
        table.row(vec![name.to_string(), show(&local), show(&remote)]);
    };
    row("Multiprotocol", &|c| families(&c.families));
    row("Route refresh", &|c| yes_no(c.route_refresh));
    row("Enhanced route refresh", &|c| yes_no(c.enhanced_route_refresh));
    row("4-octet AS", &|c| {
        if c.four_octet_asn == 0 { "no".into() } else { c.four_octet_asn.to_string() }
    });
    row("Extended message", &|c| yes_no(c.extended_message));
    row("Graceful restart", &|c| {
        if c.graceful_restart {
            format!("{}s", c.graceful_restart_time_seconds)
        } else {
            "no".into()
        }
    });
    row("ADD-PATH", &|c| yes_no(!c.add_path.is_empty()));
    row("Hostname", &|c| or_dash(&c.hostname));
    table.render()
}

/// The negotiated graceful restart state (RFC 4724, RFC 8538): whether the
/// peer is restarting (its routes are stale) and where End-of-RIB stands.
fn graceful_restart(status: Option<&GracefulRestartStatus>) -> String {
    let Some(status) = status.filter(|s| s.negotiated) else {
        return fields(&[("Negotiated", "no".into())]);
    };
    fields(&[
        ("Negotiated", "yes".into()),
        ("Peer restart time", format!("{}s", status.remote_restart_time_seconds)),
        ("Notification (N)", yes_no(status.notification)),
        ("Peer restarting", yes_no(status.peer_restarting)),
        ("Forwarding kept", families(&status.forwarding_preserved)),
        ("End-of-RIB received", families(&status.end_of_rib_received)),
        ("End-of-RIB sent", families(&status.end_of_rib_sent)),
    ])
}

fn messages(sent: Option<&MessageCounters>, received: Option<&MessageCounters>) -> String {
    let sent = sent.cloned().unwrap_or_default();
    let received = received.cloned().unwrap_or_default();
    let mut table =
        Table::new(&[("", Align::Left), ("Sent", Align::Right), ("Received", Align::Right)]);
    let mut row = |name: &str, pick: fn(&MessageCounters) -> u64| {
        table.row(vec![name.to_string(), pick(&sent).to_string(), pick(&received).to_string()]);
    };
    row("Open", |c| c.open);
    row("Update", |c| c.update);
    row("Notification", |c| c.notification);
    row("Keepalive", |c| c.keepalive);
    row("Route refresh", |c| c.route_refresh);
    row("Total", |c| c.total);
    table.render()
}

fn notification(info: Option<&NotificationInfo>) -> String {
    let Some(info) = info else {
        return "-".into();
    };
    let mut text = format!("{}/{} {}", info.code, info.subcode, info.reason);
    if !info.shutdown_message.is_empty() {
        text.push_str(&format!(" {:?}", info.shutdown_message));
    }
    text
}

#[cfg(test)]
mod tests {
    use ironlb_proto::bgpd::v1::SessionState;

    use super::*;

    #[test]
    fn an_unconnected_peer_renders_without_panicking() {
        let peer = Peer {
            config: Some(PeerConfig {
                address: "192.0.2.2".into(),
                remote_asn: 65002,
                ..Default::default()
            }),
            status: Some(PeerStatus {
                state: SessionState::Active as i32,
                admin_down: true,
                admin_down_message: "maintenance".into(),
                ..Default::default()
            }),
        };
        let text = render(&peer);
        assert!(text.starts_with("Neighbor 192.0.2.2, remote AS 65002\n"), "{text}");
        assert!(text.contains("Active (administratively down: \"maintenance\")"), "{text}");
        assert!(text.contains("none exchanged yet"), "{text}");
        assert!(!render(&Peer::default()).is_empty());
        assert!(text.contains("Graceful restart\n  Negotiated:"), "{text}");
    }

    #[test]
    fn a_vrf_peer_shows_its_device_and_why_it_cannot_bind_it() {
        let peer = Peer {
            config: Some(PeerConfig {
                address: "192.0.2.2".into(),
                remote_asn: 65002,
                vrf: "blue".into(),
                ..Default::default()
            }),
            status: Some(PeerStatus {
                device_error: "binding to device \"blue\" (vrf): No such device".into(),
                ..Default::default()
            }),
        };
        let text = render(&peer);
        assert!(text.lines().any(|l| l.trim_start().starts_with("VRF:") && l.ends_with(" blue")));
        assert!(text.contains("Device error:") && text.contains("No such device"), "{text}");
        let plain = render(&Peer { config: Some(PeerConfig::default()), status: None });
        assert!(plain.contains("none (default)"), "{plain}");
    }

    #[test]
    fn graceful_restart_status_shows_restarting_and_end_of_rib() {
        use ironlb_proto::bgpd::v1::Family;
        let status = GracefulRestartStatus {
            negotiated: true,
            remote_restart_time_seconds: 120,
            notification: true,
            peer_restarting: true,
            forwarding_preserved: vec![Family::Ipv4Unicast as i32],
            end_of_rib_received: vec![],
            end_of_rib_sent: vec![Family::Ipv4Unicast as i32, Family::Ipv6Unicast as i32],
        };
        let text = graceful_restart(Some(&status));
        for line in [
            "Negotiated:",
            "yes",
            "120s",
            "Peer restarting:",
            "End-of-RIB received: -",
            "End-of-RIB sent:     ipv4, ipv6",
        ] {
            assert!(text.contains(line), "{line:?} in {text}");
        }
        assert!(text.lines().any(|l| l.starts_with("Peer restarting") && l.ends_with("yes")));
        let off = graceful_restart(Some(&GracefulRestartStatus::default()));
        assert_eq!(off.lines().count(), 1, "{off}");
        assert!(off.contains("no"));
        assert_eq!(graceful_restart(None), off);
    }

    #[test]
    fn unsendable_prefixes_are_named_under_the_counters() {
        use ironlb_proto::bgpd::v1::Family;
        let counters = |unsendable| PrefixCounters {
            family: Family::Ipv4Unicast as i32,
            advertised: 3,
            unsendable,
            ..Default::default()
        };
        assert!(!prefixes(&[counters(0)]).contains("not advertised"));
        let text = prefixes(&[counters(2)]);
        assert!(text.contains("2 ipv4 prefixes not advertised: too large"), "{text}");
    }

    #[test]
    fn a_held_peer_shows_why_and_until_when() {
        use ironlb_proto::bgpd::v1::Family;
        let limits = MaxPrefixConfig {
            ipv4_unicast: 3,
            warning_percent: Some(75),
            restart_time_seconds: 30,
            ..Default::default()
        };
        let state = MaxPrefixStatus {
            held: true,
            family: Family::Ipv4Unicast as i32,
            count: 5,
            limit: 3,
            restart_in_seconds: 12,
            teardowns: 1,
            exceeded: vec![],
        };
        let text = max_prefix(&limits, &state);
        assert!(text.contains("yes: ipv4 5 accepted, limit 3; restarts in"), "{text}");
        assert!(text.contains("restart after 30s"), "{text}");
        let config = PeerConfig { max_prefix: Some(limits), ..Default::default() };
        assert_eq!(max_prefix_limits(&config), "ipv4 3");
        assert_eq!(max_prefix_limits(&PeerConfig::default()), "no limit");
        let stay = MaxPrefixStatus { restart_in_seconds: 0, ..state };
        assert!(max_prefix(&limits, &stay).contains("until `neighbor enable`"));
    }

    #[test]
    fn the_policy_section_says_what_rfc8212_blocks() {
        let config =
            PeerConfig { import_policy: vec!["import-upstream".into()], ..Default::default() };
        let status = PeerPolicyStatus {
            export_blocked: true,
            import_accepted: 10,
            import_rejected: 4,
            import_modified: 1,
            export_accepted: 7,
            export_rejected: 2,
            export_modified: 3,
            ..Default::default()
        };
        let text = policy(&config, Some(&status));
        assert!(text.contains("import-upstream"), "{text}");
        assert!(text.contains("none: RFC 8212 blocks it, no route is sent"), "{text}");
        assert!(text.contains("10 accepted (1 modified), 4 rejected"), "{text}");
        assert!(text.contains("Exported") && text.contains("7 accepted (3 modified), 2 rejected"));
        assert!(policy(&PeerConfig::default(), None).contains("none: everything"));
    }
}
