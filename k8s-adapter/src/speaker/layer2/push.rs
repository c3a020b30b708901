//! This node's layer2 announcements in bgpd's terms, and the push: the whole set the
//! failover says this node announces ([`crate::election::failover::Failover::announcing`])
//! goes to bgpd in one `SetAnnouncements` (declarative, like `SetPaths`), through the
//! client task's connection and under the same owner as the paths, so the session lease
//! covers both. bgpd drops the announcements the moment that session ends
//! (`layer2_grace_time_seconds` 0): a crashed speaker's bgpd stops answering at once.
//! The set is typed ([`Layer2Announcement`]) until [`sync`] builds the request.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ironlb_proto::bgpd::v1 as proto;
use ironlb_proto::bgpd::v1::SetAnnouncementsRequest;
use ironlb_proto::bgpd::v1::layer2_service_client::Layer2ServiceClient;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::speaker::channel::connect;

/// One address bgpd should answer ARP/NDP for, on these interfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer2Announcement {
    pub address: IpAddr,
    pub interfaces: Vec<String>,
}

/// What bgpd should answer for, sorted by address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layer2Desired {
    pub announcements: Vec<Layer2Announcement>,
}

impl Layer2Desired {
    /// `announcing`, each on its interfaces (`interfaces` per address, `default` when the
    /// address has none listed).
    pub fn new(
        announcing: &BTreeSet<IpAddr>,
        interfaces: &BTreeMap<IpAddr, Vec<String>>,
        default: &[String],
    ) -> Self {
        let announcements = announcing
            .iter()
            .map(|address| Layer2Announcement {
                address: *address,
                interfaces: interfaces
                    .get(address)
                    .filter(|i| !i.is_empty())
                    .map_or_else(|| default.to_vec(), Clone::clone),
            })
            .filter(|a| !a.interfaces.is_empty())
            .collect();
        Self { announcements }
    }
}

/// Withdraws every announcement of `owner` on a connection of its own (the clean stop,
/// which does not wait on the client task); whether bgpd took it.
pub async fn withdraw_all(endpoint: &str, owner: &str) -> bool {
    let Ok(channel) = connect(endpoint).await else { return false };
    let request = SetAnnouncementsRequest { owner: owner.to_owned(), announcements: Vec::new() };
    Layer2ServiceClient::new(channel).set_announcements(request).await.is_ok()
}

/// Sends `desired` unless it is what this connection last sent. `Err` only for a link
/// error (the connection is gone); a refusal is logged and the set is retried on the next
/// change or connection.
pub async fn sync(
    client: &mut Layer2ServiceClient<Channel>,
    owner: &str,
    desired: &Layer2Desired,
    applied: &mut Option<Layer2Desired>,
) -> Result<(), Status> {
    if applied.as_ref() == Some(desired) {
        return Ok(());
    }
    let request = SetAnnouncementsRequest {
        owner: owner.to_owned(),
        announcements: desired
            .announcements
            .iter()
            .map(|a| proto::Layer2Announcement {
                address: a.address.to_string(),
                interfaces: a.interfaces.clone(),
            })
            .collect(),
    };
    match client.set_announcements(request).await {
        Ok(response) => {
            let r = response.into_inner();
            tracing::info!(added = ?r.added, removed = ?r.removed, "layer2 announcements set");
            *applied = Some(desired.clone());
            Ok(())
        }
        Err(e)
            if matches!(
                e.code(),
                Code::Unavailable | Code::Cancelled | Code::Unknown | Code::Aborted
            ) =>
        {
            Err(e)
        }
        Err(e) if e.code() == Code::Unimplemented => {
            tracing::warn!("bgpd has no Layer2Service; layer2 addresses are not answered");
            *applied = Some(desired.clone());
            Ok(())
        }
        Err(e) => {
            tracing::warn!(error = %e, "bgpd refused the layer2 announcements");
            *applied = None;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_take_their_interfaces_or_the_default() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let announcing = BTreeSet::from([ip("192.0.2.10"), ip("192.0.2.11"), ip("2001:db8::1")]);
        let interfaces = BTreeMap::from([
            (ip("192.0.2.11"), vec!["eth1".to_owned()]),
            (ip("2001:db8::1"), Vec::new()),
        ]);
        let got = Layer2Desired::new(&announcing, &interfaces, &["eth0".to_owned()]);
        let pairs: Vec<(String, Vec<&str>)> = got
            .announcements
            .iter()
            .map(|a| (a.address.to_string(), a.interfaces.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("192.0.2.10".to_owned(), vec!["eth0"]),
                ("192.0.2.11".to_owned(), vec!["eth1"]),
                ("2001:db8::1".to_owned(), vec!["eth0"])
            ]
        );
        assert!(Layer2Desired::new(&announcing, &BTreeMap::new(), &[]).announcements.is_empty());
    }
}
