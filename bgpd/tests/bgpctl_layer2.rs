//! `bgpctl layer2 list|set|clear` end to end against a real `bgpd`
//! (Layer2Service, proto/ironlb/bgpd/v1/layer2.proto). Announcements name an
//! interface that does not exist, which bgpd accepts and lists as missing, so
//! no frame leaves the host and no root or namespace is needed.

mod bgpctl_support;

use bgpctl_support::{assert_failure, start};
use serde_json::json;

const NONE: &str = "ironlb-none0";
const OTHER: &str = "ironlb-none1";

#[test]
fn set_lists_and_clears_an_owners_announcements() {
    let daemon = start("");
    assert_eq!(
        daemon.ok(&["layer2", "list"]),
        "Address  Owner  Interfaces  Requests  Replies  Gratuitous\n"
    );

    let entry = format!("198.51.100.50={NONE}");
    let both = format!("2001:db8::50={NONE},{OTHER}");
    let added = daemon.ok(&["layer2", "set", "--owner", "svc", &entry, &both]);
    assert_eq!(added, "added 198.51.100.50\nadded 2001:db8::50\n");

    let table = daemon.ok(&["layer2", "list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    let words: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(words, ["198.51.100.50", "svc", "ironlb-none0(missing)", "0", "0", "0"]);
    let words: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(words[2], "ironlb-none0(missing),ironlb-none1(missing)");

    let listed = daemon.json(&["layer2", "list"]);
    assert_eq!(
        listed["announcements"][0],
        json!({
            "address": "198.51.100.50",
            "owner": "svc",
            "interfaces": [{"name": NONE, "state": "LAYER2_INTERFACE_STATE_MISSING"}],
            "requestsSeen": "0",
            "repliesSent": "0",
            "gratuitousSent": "0",
        })
    );

    // Declarative: the IPv4 entry goes, the IPv6 one changes its interfaces.
    let only = format!("2001:db8::50={NONE}");
    let changed = daemon.json(&["layer2", "set", "--owner", "svc", &only]);
    assert_eq!(
        changed,
        json!({"added": [], "removed": ["198.51.100.50"], "changed": ["2001:db8::50"]})
    );
    assert_eq!(daemon.ok(&["layer2", "set", "--owner", "svc", &only]), "no change\n");

    assert_eq!(daemon.ok(&["layer2", "clear", "--owner", "svc"]), "removed 2001:db8::50\n");
    assert_eq!(daemon.json(&["layer2", "list"]), json!({"announcements": []}));
}

#[test]
fn another_owners_address_and_bad_entries_are_refused() {
    let daemon = start("");
    let entry = format!("198.51.100.60={NONE}");
    daemon.ok(&["layer2", "set", "--owner", "first", &entry]);
    let output = daemon.run(&["layer2", "set", "--owner", "second", &entry]);
    assert_failure(&output, 1, "bgpd refused: FAILED_PRECONDITION: announcements[0].address");

    // bgpd judges the address and names the field.
    let bad = format!("198.51.100.300={NONE}");
    let output = daemon.run(&["layer2", "set", "--owner", "first", &bad]);
    assert_failure(&output, 1, "INVALID_ARGUMENT: announcements[0].address \"198.51.100.300\"");
    // bgpctl refuses what is not ADDR=IF[,IF...] before asking.
    for bad in ["198.51.100.61", "=eth0", "198.51.100.61=eth0,"] {
        let output = daemon.run(&["layer2", "set", "--owner", "first", bad]);
        assert_eq!(output.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(bad), "{bad} not in {stderr}");
    }
    // Nothing changed: the first owner still holds its one address.
    let listed = daemon.json(&["layer2", "list"]);
    assert_eq!(listed["announcements"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["announcements"][0]["owner"], "first");
}
