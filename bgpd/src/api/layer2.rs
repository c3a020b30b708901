//! `Layer2Service` (proto/ironlb/bgpd/v1/layer2.proto): validate, ask the
//! layer2 owner task, convert the answer. Interfaces that do not exist are
//! accepted (they may appear later, and the listing says
//! `LAYER2_INTERFACE_STATE_MISSING`); malformed names are not.

use std::collections::HashSet;
use std::net::IpAddr;

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::layer2_service_server::Layer2Service;
use tonic::{Request, Response, Status};

use super::error::ValidationError;
use super::validate::owner;
use crate::layer2::announcer::{
    Announcement, AnnouncementStatus, InterfaceStatus, SetOutcome, announceable,
    valid_interface_name,
};
use crate::layer2::task::Handle;

/// Most announcements one owner may set at once.
pub const MAX_ANNOUNCEMENTS: usize = 65_536;
/// Most interfaces one announcement may name.
pub const MAX_INTERFACES: usize = 64;

/// A checked `SetAnnouncementsRequest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetAnnouncementsCommand {
    pub owner: String,
    pub announcements: Vec<Announcement>,
}

/// Checks a `SetAnnouncementsRequest`; the first problem rejects it whole.
pub fn validate_set(
    request: &v1::SetAnnouncementsRequest,
) -> Result<SetAnnouncementsCommand, ValidationError> {
    let owner = owner("owner", &request.owner)?;
    if request.announcements.len() > MAX_ANNOUNCEMENTS {
        return Err(ValidationError::TooMany {
            field: "announcements".into(),
            count: request.announcements.len(),
            max: MAX_ANNOUNCEMENTS,
        });
    }
    let mut seen = HashSet::with_capacity(request.announcements.len());
    let mut announcements = Vec::with_capacity(request.announcements.len());
    for (i, announcement) in request.announcements.iter().enumerate() {
        let field = format!("announcements[{i}].address");
        let value = &announcement.address;
        if value.is_empty() {
            return Err(ValidationError::Missing { field });
        }
        let address: IpAddr = value.parse().map_err(|_| ValidationError::InvalidAddress {
            field: field.clone(),
            value: value.clone(),
        })?;
        if !announceable(address) {
            return Err(ValidationError::UnusableAddress {
                field,
                value: value.clone(),
                reason: "unspecified, loopback, multicast and broadcast addresses belong to no one host",
            });
        }
        if !seen.insert(address) {
            return Err(ValidationError::Duplicate { field, value: value.clone() });
        }
        let interfaces = interfaces(i, &announcement.interfaces)?;
        announcements.push(Announcement { address, interfaces });
    }
    Ok(SetAnnouncementsCommand { owner, announcements })
}

fn interfaces(i: usize, names: &[String]) -> Result<Vec<String>, ValidationError> {
    let field = format!("announcements[{i}].interfaces");
    if names.is_empty() {
        return Err(ValidationError::Empty { field });
    }
    if names.len() > MAX_INTERFACES {
        return Err(ValidationError::TooMany { field, count: names.len(), max: MAX_INTERFACES });
    }
    for (j, name) in names.iter().enumerate() {
        let field = format!("{field}[{j}]");
        if !valid_interface_name(name) {
            return Err(ValidationError::InvalidInterface { field, value: name.clone() });
        }
        if names[..j].contains(name) {
            return Err(ValidationError::Duplicate { field, value: name.clone() });
        }
    }
    Ok(names.to_vec())
}

/// The response to a SetAnnouncements that was applied.
pub fn set_response(outcome: &SetOutcome) -> v1::SetAnnouncementsResponse {
    let text = |list: &[IpAddr]| list.iter().map(ToString::to_string).collect();
    v1::SetAnnouncementsResponse {
        added: text(&outcome.added),
        removed: text(&outcome.removed),
        changed: text(&outcome.changed),
    }
}

/// One listed announcement.
pub fn status_message(status: &AnnouncementStatus) -> v1::Layer2AnnouncementStatus {
    v1::Layer2AnnouncementStatus {
        address: status.address.to_string(),
        owner: status.owner.clone(),
        interfaces: status
            .interfaces
            .iter()
            .map(|(name, state)| v1::Layer2InterfaceStatus {
                name: name.clone(),
                state: interface_state(*state) as i32,
            })
            .collect(),
        requests_seen: status.counters.requests_seen,
        replies_sent: status.counters.replies_sent,
        gratuitous_sent: status.counters.gratuitous_sent,
    }
}

fn interface_state(state: InterfaceStatus) -> v1::Layer2InterfaceState {
    match state {
        InterfaceStatus::Announcing => v1::Layer2InterfaceState::Announcing,
        InterfaceStatus::Missing => v1::Layer2InterfaceState::Missing,
        InterfaceStatus::Down => v1::Layer2InterfaceState::Down,
        InterfaceStatus::NoArp => v1::Layer2InterfaceState::Noarp,
    }
}

/// The tonic service over the layer2 task's [`Handle`].
#[derive(Clone, Debug)]
pub struct Layer2Api {
    handle: Handle,
}

impl Layer2Api {
    pub fn new(handle: Handle) -> Self {
        Self { handle }
    }
}

fn stopped() -> Status {
    Status::unavailable("bgpd is shutting down")
}

#[tonic::async_trait]
impl Layer2Service for Layer2Api {
    async fn set_announcements(
        &self,
        request: Request<v1::SetAnnouncementsRequest>,
    ) -> Result<Response<v1::SetAnnouncementsResponse>, Status> {
        let command = validate_set(request.get_ref())?;
        let outcome = self
            .handle
            .set(command.owner, command.announcements)
            .await
            .map_err(|_| stopped())?
            .map_err(|conflict| {
                let at = request
                    .get_ref()
                    .announcements
                    .iter()
                    .position(|a| a.address.parse() == Ok(conflict.address))
                    .unwrap_or(0);
                Status::failed_precondition(format!(
                    "announcements[{at}].address \"{}\" is announced for owner {:?}",
                    conflict.address, conflict.holder
                ))
            })?;
        Ok(Response::new(set_response(&outcome)))
    }

    async fn list_announcements(
        &self,
        _request: Request<v1::ListAnnouncementsRequest>,
    ) -> Result<Response<v1::ListAnnouncementsResponse>, Status> {
        let list = self.handle.list().await.map_err(|_| stopped())?;
        Ok(Response::new(v1::ListAnnouncementsResponse {
            announcements: list.iter().map(status_message).collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(owner: &str, entries: &[(&str, &[&str])]) -> v1::SetAnnouncementsRequest {
        v1::SetAnnouncementsRequest {
            owner: owner.into(),
            announcements: entries
                .iter()
                .map(|(address, interfaces)| v1::Layer2Announcement {
                    address: (*address).into(),
                    interfaces: interfaces.iter().map(|s| (*s).into()).collect(),
                })
                .collect(),
        }
    }

    fn rejected(request: &v1::SetAnnouncementsRequest) -> String {
        let error = validate_set(request).unwrap_err();
        assert_eq!(Status::from(error.clone()).code(), tonic::Code::InvalidArgument);
        error.to_string()
    }

    #[test]
    fn a_valid_request_becomes_a_command() {
        let command = validate_set(&request(
            "svc",
            &[("198.51.100.50", &["eth0"]), ("2001:db8::50", &["eth0", "eth1"])],
        ))
        .unwrap();
        assert_eq!(command.owner, "svc");
        assert_eq!(command.announcements[1].address, "2001:db8::50".parse::<IpAddr>().unwrap());
        assert_eq!(command.announcements[1].interfaces, ["eth0", "eth1"]);
        assert!(validate_set(&request("svc", &[])).is_ok(), "empty withdraws everything");
    }

    #[test]
    fn every_rejection_names_field_and_value() {
        let cases: [(v1::SetAnnouncementsRequest, &str); 8] = [
            (request("", &[]), "owner \"\" is not a valid owner name"),
            (
                request("svc", &[("198.51.100.300", &["eth0"])]),
                "announcements[0].address \"198.51.100.300\" is not an IP address",
            ),
            (request("svc", &[("", &["eth0"])]), "announcements[0].address is required"),
            (
                request("svc", &[("224.0.0.1", &["eth0"])]),
                "announcements[0].address \"224.0.0.1\" cannot be used",
            ),
            (
                request("svc", &[("198.51.100.50", &["eth0"]), ("198.51.100.50", &["eth1"])]),
                "announcements[1].address \"198.51.100.50\" appears more than once",
            ),
            (request("svc", &[("198.51.100.50", &[])]), "announcements[0].interfaces is empty"),
            (
                request("svc", &[("198.51.100.50", &["eth0", "a b"])]),
                "announcements[0].interfaces[1] \"a b\" is not an interface name",
            ),
            (
                request("svc", &[("198.51.100.50", &["eth0", "eth0"])]),
                "announcements[0].interfaces[1] \"eth0\" appears more than once",
            ),
        ];
        for (request, expected) in cases {
            let message = rejected(&request);
            assert!(message.starts_with(expected), "{message:?} should start with {expected:?}");
        }
    }

    #[test]
    fn statuses_convert_with_counters() {
        let status = AnnouncementStatus {
            address: "198.51.100.50".parse().unwrap(),
            owner: "svc".into(),
            interfaces: vec![
                ("eth0".into(), InterfaceStatus::Announcing),
                ("eth9".into(), InterfaceStatus::Missing),
            ],
            counters: crate::layer2::announcer::Counters {
                requests_seen: 3,
                replies_sent: 2,
                gratuitous_sent: 8,
            },
        };
        let message = status_message(&status);
        assert_eq!(message.address, "198.51.100.50");
        assert_eq!(message.interfaces[1].state, v1::Layer2InterfaceState::Missing as i32);
        assert_eq!(
            (message.requests_seen, message.replies_sent, message.gratuitous_sent),
            (3, 2, 8)
        );
    }
}
