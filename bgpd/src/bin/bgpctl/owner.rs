//! `bgpctl owner list`: every owner of API paths with its lease (ListOwners).

use ironlb_proto::bgpd::v1::ListOwnersRequest;

use crate::connect::Api;
use crate::error::CtlError;
use crate::human;
use crate::output::{Align, Output, Table};

pub async fn list(api: &mut Api, out: &mut Output) -> Result<(), CtlError> {
    let answer = api.target.call(api.client.list_owners(ListOwnersRequest {})).await?;
    if out.is_json() {
        return out.json("ListOwnersResponse", &answer);
    }
    let mut table = Table::new(&[
        ("Owner", Align::Left),
        ("State", Align::Left),
        ("Paths", Align::Right),
        ("Grace", Align::Right),
        ("Remaining", Align::Right),
        ("Resync", Align::Left),
    ]);
    for owner in &answer.owners {
        let remaining = if owner.grace_remaining_seconds > 0 {
            format!("{}s", owner.grace_remaining_seconds)
        } else {
            "-".into()
        };
        table.row(vec![
            owner.name.clone(),
            human::owner_state(owner.state),
            owner.path_count.to_string(),
            format!("{}s", owner.grace_time_seconds),
            remaining,
            if owner.resync_required { "required".into() } else { String::new() },
        ]);
    }
    table.drop_empty_column(5);
    out.text(&table.render())
}
