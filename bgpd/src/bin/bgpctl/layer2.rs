//! `bgpctl layer2 list|set|clear`: the ARP/NDP announcements of
//! `Layer2Service` (layer2.proto). `set` is declarative like the RPC: the
//! entries given become the owner's whole set; `clear` is the empty set.

use ironlb_proto::bgpd::v1::{
    Layer2Announcement, Layer2InterfaceState, ListAnnouncementsRequest, SetAnnouncementsRequest,
    SetAnnouncementsResponse,
};

use crate::cli::Layer2Command;
use crate::connect::Api;
use crate::error::CtlError;
use crate::output::{Align, Output, Table};

pub async fn run(command: Layer2Command, api: &mut Api, out: &mut Output) -> Result<(), CtlError> {
    match command {
        Layer2Command::List => list(api, out).await,
        Layer2Command::Set(args) => {
            let announcements = args
                .entries
                .into_iter()
                .map(|entry| Layer2Announcement {
                    address: entry.address,
                    interfaces: entry.interfaces,
                })
                .collect();
            set(api, out, args.owner, announcements).await
        }
        Layer2Command::Clear(args) => set(api, out, args.owner, Vec::new()).await,
    }
}

async fn list(api: &mut Api, out: &mut Output) -> Result<(), CtlError> {
    let answer =
        api.target.call(api.layer2.list_announcements(ListAnnouncementsRequest {})).await?;
    if out.is_json() {
        return out.json("ListAnnouncementsResponse", &answer);
    }
    let mut table = Table::new(&[
        ("Address", Align::Left),
        ("Owner", Align::Left),
        ("Interfaces", Align::Left),
        ("Requests", Align::Right),
        ("Replies", Align::Right),
        ("Gratuitous", Align::Right),
    ]);
    for status in &answer.announcements {
        let interfaces: Vec<String> = status
            .interfaces
            .iter()
            .map(|interface| format!("{}({})", interface.name, state(interface.state)))
            .collect();
        table.row(vec![
            status.address.clone(),
            status.owner.clone(),
            interfaces.join(","),
            status.requests_seen.to_string(),
            status.replies_sent.to_string(),
            status.gratuitous_sent.to_string(),
        ]);
    }
    out.text(&table.render())
}

fn state(value: i32) -> &'static str {
    match Layer2InterfaceState::try_from(value) {
        Ok(Layer2InterfaceState::Announcing) => "announcing",
        Ok(Layer2InterfaceState::Missing) => "missing",
        Ok(Layer2InterfaceState::Down) => "down",
        Ok(Layer2InterfaceState::Noarp) => "noarp",
        Ok(Layer2InterfaceState::Unspecified) | Err(_) => "unknown",
    }
}

async fn set(
    api: &mut Api,
    out: &mut Output,
    owner: String,
    announcements: Vec<Layer2Announcement>,
) -> Result<(), CtlError> {
    let request = SetAnnouncementsRequest { owner, announcements };
    let answer = api.target.call(api.layer2.set_announcements(request)).await?;
    if out.is_json() {
        return out.json("SetAnnouncementsResponse", &answer);
    }
    out.text(&summary(&answer))
}

/// One line per address that changed, or "no change".
fn summary(answer: &SetAnnouncementsResponse) -> String {
    let mut text = String::new();
    for (word, list) in
        [("added", &answer.added), ("removed", &answer.removed), ("changed", &answer.changed)]
    {
        for address in list {
            text.push_str(word);
            text.push(' ');
            text.push_str(address);
            text.push('\n');
        }
    }
    if text.is_empty() {
        text.push_str("no change\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_each_address_or_says_nothing_changed() {
        let answer = SetAnnouncementsResponse {
            added: vec!["198.51.100.50".into()],
            removed: vec!["198.51.100.51".into()],
            changed: vec!["2001:db8::50".into()],
        };
        assert_eq!(
            summary(&answer),
            "added 198.51.100.50\nremoved 198.51.100.51\nchanged 2001:db8::50\n"
        );
        assert_eq!(summary(&SetAnnouncementsResponse::default()), "no change\n");
    }
}
