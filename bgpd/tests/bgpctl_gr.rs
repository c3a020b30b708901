//! `bgpctl` and graceful restart, end to end between two `bgpd` on loopback
//! (A on 127.0.0.1, B on 127.0.0.2, both with graceful restart): `neighbor
//! show` reports the negotiated state and End-of-RIB both ways; when B is
//! killed, A keeps B's route as stale, and `route list` and `neighbor show`
//! say so.

mod bgpctl_support;

use std::net::Ipv4Addr;

use bgpctl_support::{api, field, free_port_on, scratch_directory, start_config, text_until};

const ROUTE: &str = "198.51.100.0/24";

#[test]
fn neighbor_show_and_route_list_report_graceful_restart() {
    let a_port = free_port_on(Ipv4Addr::LOCALHOST);
    let b_address = Ipv4Addr::new(127, 0, 0, 2);
    let b_port = free_port_on(b_address);
    let a_directory = scratch_directory();
    let a_config = format!(
        "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = {a_port}\n\
         listen_addresses = [\"127.0.0.1\"]\nstate_dir = {:?}\n\
         [[neighbors]]\naddress = \"127.0.0.2\"\nremote_asn = 65002\nport = {b_port}\n\
         local_address = \"127.0.0.1\"\nimport_policy = [\"accept-all\"]\n\
         export_policy = [\"accept-all\"]\n[neighbors.graceful_restart]\nenabled = true\n",
        a_directory.join("state")
    );
    let a = start_config(a_directory, &a_config, &api());
    let b_directory = scratch_directory();
    let b_config = format!(
        "[global]\nasn = 65002\nrouter_id = \"192.0.2.2\"\nlisten_port = {b_port}\n\
         listen_addresses = [\"127.0.0.2\"]\nstate_dir = {:?}\n\
         [[neighbors]]\naddress = \"127.0.0.1\"\nremote_asn = 65001\nport = {a_port}\n\
         local_address = \"127.0.0.2\"\npassive = true\n\
         import_policy = [\"accept-all\"]\nexport_policy = [\"accept-all\"]\n\
         [neighbors.graceful_restart]\nenabled = true\n\
         [[routes]]\nprefix = \"{ROUTE}\"\n",
        b_directory.join("state")
    );
    let b = start_config(b_directory, &b_config, &api());

    let show = ["neighbor", "show", "127.0.0.2"];
    let detail = text_until(&a, "End-of-RIB both ways", &show, |text| {
        field(text, "End-of-RIB received") == Some("ipv4")
            && field(text, "End-of-RIB sent") == Some("ipv4")
    });
    assert_eq!(field(&detail, "Negotiated"), Some("yes"), "{detail}");
    assert_eq!(field(&detail, "Peer restarting"), Some("no"), "{detail}");
    assert_eq!(field(&detail, "Forwarding kept"), Some("ipv4"), "{detail}");
    let json = a.json(&show);
    assert_eq!(json["peer"]["status"]["gracefulRestart"]["negotiated"], true, "{json}");

    let list = ["route", "list", "--prefix", ROUTE];
    let fresh = text_until(&a, "B's route", &list, |text| text.contains(ROUTE));
    assert!(!fresh.contains("*>S"), "{fresh}");

    // B dies (SIGKILL, the TCP connection closes): A keeps its route, stale.
    drop(b);
    let stale = text_until(&a, "B's route stale", &list, |text| {
        text.lines().any(|line| line.contains(ROUTE) && line.starts_with("*>S"))
    });
    assert!(stale.contains("S: stale"), "the flag is explained: {stale}");
    let json = a.json(&list);
    assert_eq!(json["paths"][0]["path"]["stale"], true, "{json}");
    let detail = a.ok(&show);
    assert_eq!(field(&detail, "Peer restarting"), Some("yes"), "{detail}");
}
