//! `bgpctl status`: the daemon's identity and counts (GetInfo).

use ironlb_proto::bgpd::v1::GetInfoRequest;

use crate::connect::Api;
use crate::error::CtlError;
use crate::human;
use crate::output::{Output, fields};

pub async fn run(api: &mut Api, out: &mut Output) -> Result<(), CtlError> {
    let info = api.target.call(api.client.get_info(GetInfoRequest {})).await?;
    if out.is_json() {
        return out.json("GetInfoResponse", &info);
    }
    out.text(&fields(&[
        ("AS", info.asn.to_string()),
        ("Router ID", info.router_id.clone()),
        ("Version", info.version.clone()),
        ("Uptime", human::duration(info.uptime_seconds)),
        (
            "Neighbors",
            format!("{} configured, {} established", info.peer_count, info.established_peer_count),
        ),
        ("Prefixes", info.path_count.to_string()),
        ("Owners", info.owner_count.to_string()),
        ("API", info.listen.join(", ")),
    ]))
}
