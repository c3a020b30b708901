//! `bgpctl neighbor ...`: list, show, add, delete, enable, disable and reset
//! neighbours (ListPeers, GetPeer, AddPeer, DeletePeer, EnablePeer,
//! DisablePeer, ResetPeer). The detailed view of `show` is in
//! [`crate::neighbor_detail`].

use ironlb_proto::bgpd::v1::{
    AddPeerRequest, DeletePeerRequest, DisablePeerRequest, DisablePeerResponse, EnablePeerRequest,
    EnablePeerResponse, Family, GetPeerRequest, GracefulRestartConfig, ListPeersRequest,
    MaxPrefixConfig, Peer, PeerConfig, ResetKind, ResetPeerRequest, ResetPeerResponse,
};

use crate::cli::{NeighborAddArgs, NeighborCommand, ResetArgs};
use crate::connect::Api;
use crate::error::CtlError;
use crate::human;
use crate::neighbor_detail;
use crate::output::{Align, Output, Table};

pub async fn run(
    command: NeighborCommand,
    api: &mut Api,
    out: &mut Output,
) -> Result<(), CtlError> {
    match command {
        NeighborCommand::List => list(api, out).await,
        NeighborCommand::Show { address } => show(api, out, address).await,
        NeighborCommand::Add(args) => add(api, out, *args).await,
        NeighborCommand::Del { address } => {
            let request = DeletePeerRequest { address: address.clone() };
            let answer = api.target.call(api.client.delete_peer(request)).await?;
            done(out, "DeletePeerResponse", &answer, &format!("neighbor {address} deleted"))
        }
        NeighborCommand::Enable { address } => {
            let request = EnablePeerRequest { address: address.clone() };
            let answer: EnablePeerResponse =
                api.target.call(api.client.enable_peer(request)).await?;
            done(out, "EnablePeerResponse", &answer, &format!("neighbor {address} enabled"))
        }
        NeighborCommand::Disable { address, message } => {
            let request = DisablePeerRequest { address: address.clone(), message };
            let answer: DisablePeerResponse =
                api.target.call(api.client.disable_peer(request)).await?;
            done(out, "DisablePeerResponse", &answer, &format!("neighbor {address} disabled"))
        }
        NeighborCommand::Reset(args) => reset(api, out, args).await,
    }
}

/// Prints an empty answer: `{}` for scripts, one line for people.
fn done<M: prost::Message>(
    out: &mut Output,
    name: &'static str,
    answer: &M,
    line: &str,
) -> Result<(), CtlError> {
    if out.is_json() {
        return out.json(name, answer);
    }
    out.text(&format!("{line}\n"))
}

async fn list(api: &mut Api, out: &mut Output) -> Result<(), CtlError> {
    let answer = api.target.call(api.client.list_peers(ListPeersRequest {})).await?;
    if out.is_json() {
        return out.json("ListPeersResponse", &answer);
    }
    out.text(&summary(&answer.peers))
}

/// The `vtysh`-like summary: one line per neighbour.
pub fn summary(peers: &[Peer]) -> String {
    let mut table = Table::new(&[
        ("Neighbor", Align::Left),
        ("AS", Align::Right),
        ("State", Align::Left),
        ("Up/Down", Align::Right),
        ("PfxRcd", Align::Right),
        ("PfxSnt", Align::Right),
        ("Description", Align::Left),
    ]);
    for peer in peers {
        let config = peer.config.clone().unwrap_or_default();
        let status = peer.status.clone().unwrap_or_default();
        let state = if status.admin_down {
            format!("{} (Admin)", human::state(status.state))
        } else {
            human::state(status.state)
        };
        let established = status.uptime_seconds > 0;
        let up_down = if established { status.uptime_seconds } else { status.state_age_seconds };
        let received: u64 = status.prefixes.iter().map(|p| p.received).sum();
        let sent: u64 = status.prefixes.iter().map(|p| p.advertised).sum();
        let remote_as = human::remote_as(&config, status.remote_asn);
        table.row(vec![
            human::neighbor_name(&config),
            remote_as,
            state,
            human::duration(up_down),
            received.to_string(),
            sent.to_string(),
            config.description,
        ]);
    }
    table.drop_empty_column(6);
    table.render()
}

async fn show(api: &mut Api, out: &mut Output, address: String) -> Result<(), CtlError> {
    let answer = api.target.call(api.client.get_peer(GetPeerRequest { address })).await?;
    if out.is_json() {
        return out.json("GetPeerResponse", &answer);
    }
    let peer = answer.peer.ok_or(CtlError::Incomplete("peer"))?;
    out.text(&neighbor_detail::render(&peer))
}

async fn add(api: &mut Api, out: &mut Output, args: NeighborAddArgs) -> Result<(), CtlError> {
    let peer = peer_config(args)?;
    let address = match peer.interface.as_str() {
        "" => peer.address.clone(),
        interface => format!("%{interface}"),
    };
    let answer = api.target.call(api.client.add_peer(AddPeerRequest { peer: Some(peer) })).await?;
    if out.is_json() {
        return out.json("AddPeerResponse", &answer);
    }
    out.text(&format!("neighbor {address} added\n"))?;
    match &answer.peer {
        Some(peer) => out.text(&summary(std::slice::from_ref(peer))),
        None => Ok(()),
    }
}

/// `neighbor add`'s flags as a `PeerConfig`; unset flags stay at the API's
/// "use the default" value.
fn peer_config(args: NeighborAddArgs) -> Result<PeerConfig, CtlError> {
    let password = match (&args.password, &args.password_file) {
        (Some(password), _) => password.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|source| CtlError::PasswordFile { path: path.clone(), source })?
            .trim_end_matches(['\n', '\r'])
            .to_string(),
        (None, None) => String::new(),
    };
    let graceful_restart = args.graceful_restart.then_some(GracefulRestartConfig {
        enabled: true,
        restart_time_seconds: args.restart_time,
        stale_routes_time_seconds: args.stale_routes_time,
        notification: args.gr_notification,
        helper_only: args.gr_helper_only,
    });
    let max_prefix = (args.max_prefixes_ipv4.is_some()
        || args.max_prefixes_ipv6.is_some()
        || args.max_prefix_warning.is_some()
        || args.max_prefix_warning_only
        || args.max_prefix_restart.is_some())
    .then(|| {
        let every = args.max_prefixes.unwrap_or(0);
        let family = |limit: Option<u32>, on: bool| limit.unwrap_or(if on { every } else { 0 });
        let v4 = args
            .address
            .as_deref()
            .is_some_and(|a| a.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_ipv4()));
        let (has_v4, has_v6) = if args.family.is_empty() {
            // Over an interface: both families by default.
            if args.interface.is_some() { (true, true) } else { (v4, !v4) }
        } else {
            (
                args.family.iter().any(|f| human::family_arg(*f) == Family::Ipv4Unicast),
                args.family.iter().any(|f| human::family_arg(*f) == Family::Ipv6Unicast),
            )
        };
        MaxPrefixConfig {
            ipv4_unicast: family(args.max_prefixes_ipv4, has_v4),
            ipv6_unicast: family(args.max_prefixes_ipv6, has_v6),
            warning_percent: args.max_prefix_warning,
            warning_only: args.max_prefix_warning_only,
            restart_time_seconds: args.max_prefix_restart.unwrap_or(0),
        }
    });
    Ok(PeerConfig {
        address: args.address.unwrap_or_default(),
        interface: args.interface.unwrap_or_default(),
        remote_asn: args.remote_as.unwrap_or(0),
        dynamic_asn: human::dynamic_asn_arg(args.dynamic_asn) as i32,
        local_asn: args.local_as.unwrap_or(0),
        router_id: args.router_id.unwrap_or_default(),
        port: args.port.unwrap_or(0),
        local_address: args.local_address.unwrap_or_default(),
        vrf: args.vrf.unwrap_or_default(),
        password,
        password_set: false,
        bfd: None,
        hold_time_seconds: args.hold_time,
        keepalive_seconds: args.keepalive,
        connect_retry_seconds: args.connect_retry,
        passive: args.passive,
        multihop_ttl: args.multihop.unwrap_or(0),
        ttl_security_hops: args.ttl_security.unwrap_or(0),
        families: args.family.into_iter().map(|f| human::family_arg(f) as i32).collect(),
        description: args.description.unwrap_or_default(),
        disabled: args.disabled,
        enforce_first_as: args.no_enforce_first_as.then_some(false),
        // With the detailed flags, the shorthand goes into `max_prefix`.
        max_prefixes: if max_prefix.is_some() { 0 } else { args.max_prefixes.unwrap_or(0) },
        max_prefix,
        graceful_restart,
        import_policy: args.import_policy,
        export_policy: args.export_policy,
        soft_reconfiguration_inbound: args.soft_reconfiguration_inbound.then_some(true),
    })
}

async fn reset(api: &mut Api, out: &mut Output, args: ResetArgs) -> Result<(), CtlError> {
    let kind = match (args.soft_in, args.soft_out) {
        (false, false) => ResetKind::Hard,
        (true, false) => ResetKind::SoftIn,
        (false, true) => ResetKind::SoftOut,
        (true, true) => ResetKind::Soft,
    };
    let request = ResetPeerRequest {
        address: args.address.clone(),
        kind: kind as i32,
        message: args.message.unwrap_or_default(),
        families: args.family.into_iter().map(|f| human::family_arg(f) as i32).collect(),
    };
    let answer: ResetPeerResponse = api.target.call(api.client.reset_peer(request)).await?;
    let what = match kind {
        ResetKind::Hard => "reset",
        ResetKind::SoftIn => "asked to resend its routes",
        ResetKind::SoftOut => "sent our routes again",
        _ => "soft reset both ways",
    };
    done(out, "ResetPeerResponse", &answer, &format!("neighbor {} {what}", args.address))
}
