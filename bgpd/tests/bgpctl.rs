//! `bgpctl` end to end: the real bgpctl binary against a real bgpd, checking
//! stdout (tables and JSON), stderr and exit codes, for the RPCs bgpd serves.
//! Commands whose RPCs are still to come are in `bgpctl_peers.rs`.

mod bgpctl_support;

use std::net::{Ipv4Addr, TcpListener};

use bgpctl_support::{NEIGHBOR, assert_failure, bgpctl, free_port, scratch_directory, start};

#[test]
fn status_prints_a_table_and_proto3_json() {
    let daemon = start(NEIGHBOR);
    let table = daemon.ok(&["status"]);
    assert!(table.contains("AS:"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("AS:") && l.ends_with(" 65001")), "{table}");
    assert!(table.contains("192.0.2.1"), "{table}");
    assert!(table.contains("1 configured, 0 established"), "{table}");
    assert!(table.contains(&daemon.api), "{table}");

    let json = daemon.json(&["status"]);
    assert_eq!(json["asn"], 65001);
    assert_eq!(json["routerId"], "192.0.2.1");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["peerCount"], 1);
    assert_eq!(json["establishedPeerCount"], 0, "fields at their default are printed");
    assert_eq!(json["pathCount"], "0", "uint64 is a string in proto3 JSON");
    assert!(json["uptimeSeconds"].is_string(), "{json}");
    assert_eq!(json["listen"], serde_json::json!([daemon.api]));
}

#[test]
fn the_api_address_comes_from_the_environment_when_not_given() {
    let daemon = start("");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bgpctl"))
        .args(["-o", "json", "status"])
        .env("BGPCTL_API", &daemon.api)
        .output()
        .expect("run bgpctl");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["asn"], 65001);
}

#[test]
fn works_over_a_unix_socket() {
    let directory = scratch_directory();
    let api = format!("unix:{}", directory.join("bgpd.sock").display());
    let daemon = bgpctl_support::start_in(directory, "", &api);
    assert_eq!(daemon.json(&["status"])["listen"], serde_json::json!([api]));
}

#[test]
fn route_add_list_del_round_trip() {
    let daemon = start("");
    let added = daemon.ok(&[
        "route",
        "add",
        "198.51.100.0/24",
        "203.0.113.7/32",
        "--next-hop",
        "192.0.2.10",
        "--med",
        "20",
        "--local-pref",
        "200",
        "--community",
        "65000:100",
        "--community",
        "no-export",
        "--large-community",
        "65000:1:2",
        "--as-path",
        "65010 65020",
    ]);
    assert!(added.contains("198.51.100.0/24  added"), "{added}");
    assert!(added.contains("203.0.113.7/32   added"), "{added}");

    // Adding the same again changes nothing, and says so.
    let again = daemon.json(&["route", "add", "203.0.113.7/32", "--next-hop", "192.0.2.10"]);
    assert_eq!(again["results"][0]["outcome"], "PATH_OUTCOME_CHANGED", "{again}");

    // The table shows the attributes, best flag and the owner.
    let table = daemon.ok(&["route", "list"]);
    let line = table.lines().find(|l| l.contains("198.51.100.0/24")).expect("listed");
    // (The AS path is not checked: bgpd's RIB empties the AS_PATH of paths
    // it originates, whatever the API sent.)
    for part in ["*>", "192.0.2.10", "200", "20", "owner bgpctl", " i ", "65000:100"] {
        assert!(line.contains(part), "{part:?} missing in {line:?}\n{table}");
    }
    assert!(table.starts_with("    Prefix"), "header first: {table}");

    // JSON: one document with every path, proto3 names and enum names.
    let json = daemon.json(&["route", "list"]);
    let paths = json["paths"].as_array().expect("paths array");
    assert_eq!(paths.len(), 2, "{json}");
    let first = paths.iter().find(|p| p["path"]["prefix"] == "198.51.100.0/24").expect("path");
    assert_eq!(first["path"]["nextHop"], "192.0.2.10");
    assert_eq!(first["path"]["med"], 20);
    assert_eq!(first["path"]["localPref"], 200);
    assert_eq!(first["path"]["communities"], serde_json::json!(["65000:100", "no-export"]));
    assert_eq!(first["path"]["largeCommunities"], serde_json::json!(["65000:1:2"]));
    assert_eq!(first["path"]["origin"], "ORIGIN_IGP");
    assert_eq!(first["source"]["owner"], "bgpctl");
    assert_eq!(first["best"], true);

    // Filters: family, prefix (exact and longer), owner.
    let v6 = daemon.json(&["route", "list", "--family", "ipv6"]);
    assert_eq!(v6["paths"], serde_json::json!([]));
    let exact = daemon.json(&["route", "list", "--prefix", "198.51.100.0/24"]);
    assert_eq!(exact["paths"].as_array().map(Vec::len), Some(1));
    let longer = daemon.json(&["route", "list", "--prefix", "203.0.113.0/24", "--longer"]);
    assert_eq!(longer["paths"][0]["path"]["prefix"], "203.0.113.7/32");
    let none = daemon.json(&["route", "list", "--owner", "somebody-else"]);
    assert_eq!(none["paths"], serde_json::json!([]));

    // The owner count follows.
    assert_eq!(daemon.json(&["status"])["ownerCount"], 1);

    // Delete one, then the table has the other only.
    let deleted = daemon.ok(&["route", "del", "198.51.100.0/24"]);
    assert!(deleted.contains("198.51.100.0/24  withdrawn"), "{deleted}");
    let json = daemon.json(&["route", "list"]);
    assert_eq!(json["paths"].as_array().map(Vec::len), Some(1), "{json}");
    let deleted = daemon.json(&["route", "del", "203.0.113.7/32", "--owner", "bgpctl"]);
    assert_eq!(deleted["results"][0]["outcome"], "PATH_OUTCOME_WITHDRAWN");
    assert_eq!(daemon.ok(&["route", "list"]), "no routes\n");
}

#[test]
fn routes_of_another_owner_and_a_missing_route() {
    let daemon = start("");
    daemon.ok(&["route", "add", "198.51.100.0/24", "--owner", "lb"]);
    let json = daemon.json(&["route", "list", "--owner", "lb"]);
    assert_eq!(json["paths"][0]["source"]["owner"], "lb");
    // bgpctl's own owner holds nothing: deleting it is refused, exit 1.
    let output = daemon.run(&["route", "del", "198.51.100.0/24"]);
    assert_failure(&output, 1, "NOT_FOUND: owner \"bgpctl\" holds no path for 198.51.100.0/24");
    assert!(String::from_utf8_lossy(&output.stdout).contains("not found"));
}

#[test]
fn neighbor_list_and_show_for_a_configured_neighbor() {
    let daemon = start(NEIGHBOR);
    let table = daemon.ok(&["neighbor", "list"]);
    let mut lines = table.lines();
    let header = lines.next().expect("header");
    for column in ["Neighbor", "AS", "State", "Up/Down", "PfxRcd", "PfxSnt", "Description"] {
        assert!(header.contains(column), "{column} missing: {header}");
    }
    let row = lines.next().expect("one neighbour");
    assert!(row.starts_with("127.0.0.2"), "{row}");
    assert!(row.contains("65002") && row.contains("test peer"), "{row}");
    assert!(!row.contains("Established"), "{row}");
    // Columns line up: each header starts where its values start.
    let at = header.find("Description").expect("column");
    assert_eq!(row.find("test peer"), Some(at), "\n{header}\n{row}");

    let json = daemon.json(&["neighbor", "list"]);
    let peer = &json["peers"][0];
    assert_eq!(peer["config"]["address"], "127.0.0.2");
    assert_eq!(peer["config"]["remoteAsn"], 65002);
    assert_eq!(peer["config"]["passive"], false);
    assert!(peer["status"]["state"].as_str().is_some_and(|s| s.starts_with("SESSION_STATE_")));

    let detail = daemon.ok(&["neighbor", "show", "127.0.0.2"]);
    assert!(detail.starts_with("Neighbor 127.0.0.2, remote AS 65002\n"), "{detail}");
    assert!(detail.contains("Description:") && detail.contains("test peer"), "{detail}");
    let passive = detail.lines().find(|l| l.trim_start().starts_with("Passive:"));
    assert!(passive.is_some_and(|l| l.ends_with(" no")), "{detail}");
    assert!(detail.contains("\nCapabilities\n") && detail.contains("\nMessages\n"), "{detail}");
    let json = daemon.json(&["neighbor", "show", "127.0.0.2"]);
    assert_eq!(json["peer"]["config"]["description"], "test peer");

    let output = daemon.run(&["neighbor", "show", "127.0.0.9"]);
    assert_failure(&output, 1, "bgpd refused: NOT_FOUND: ");
    assert!(output.stdout.is_empty());
}

#[test]
fn an_unreachable_bgpd_is_exit_3_with_one_line() {
    let port = free_port();
    let api = format!("127.0.0.1:{port}");
    let output = bgpctl(&["--api", &api, "status"]);
    let line = assert_failure(&output, 3, "connection refused");
    assert_eq!(line, format!("bgpctl: cannot reach bgpd at {api}: connection refused\n"));
    assert!(output.stdout.is_empty());

    let socket = scratch_directory().join("nobody.sock");
    let api = format!("unix:{}", socket.display());
    let output = bgpctl(&["--api", &api, "-o", "json", "route", "list"]);
    assert_failure(&output, 3, &format!("cannot reach bgpd at {api}: no such file or directory"));
}

#[test]
fn a_silent_server_times_out_with_exit_3() {
    // Accepts TCP connections (the kernel does) but never answers.
    let silent = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let api = silent.local_addr().expect("address").to_string();
    let output = bgpctl(&["--api", &api, "--timeout", "0.5", "status"]);
    assert_failure(&output, 3, &format!("bgpd at {api} did not answer within 0.5s"));
}

#[test]
fn a_refused_request_is_exit_1_with_the_status() {
    let daemon = start("");
    // Host bits set: AddPaths rejects the path; bgpctl prints the result and
    // the reason, and fails.
    let output = daemon.run(&["route", "add", "198.51.100.10/24"]);
    let line = assert_failure(&output, 1, "bgpd refused: INVALID_ARGUMENT: ");
    assert!(line.contains("198.51.100.10/24"), "{line}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("rejected"));

    // The JSON answer still reaches stdout, with the per-path result.
    let output = daemon.run(&["-o", "json", "route", "add", "not-a-prefix"]);
    assert_failure(&output, 1, "INVALID_ARGUMENT");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["results"][0]["outcome"], "PATH_OUTCOME_REJECTED");
    assert_eq!(json["results"][0]["code"], 3);

    // A whole request refused by a status.
    let output = daemon.run(&["route", "list", "--table", "in", "--neighbor", "127.0.0.9"]);
    assert_failure(&output, 1, "bgpd refused: NOT_FOUND: ");
    let output = daemon.run(&["neighbor", "show", "not-an-address"]);
    assert_failure(&output, 1, "bgpd refused: INVALID_ARGUMENT: ");
    assert!(daemon.json(&["route", "list"])["paths"].as_array().is_some_and(Vec::is_empty));
}

#[test]
fn bad_arguments_are_exit_2() {
    for args in [
        &["frobnicate"][..],
        &["route", "add"],
        &["route", "add", "198.51.100.0/24", "--med", "-1"],
        &["route", "add", "198.51.100.0/24", "--as-path", "65010 x"],
        &["route", "list", "--table", "sideways"],
        &["route", "list", "--longer"],
        &["route", "list", "--table", "in"],
        &["neighbor", "add", "192.0.2.2"],
        &["neighbor", "reset", "192.0.2.2", "--soft-in", "--message", "x"],
        &["-o", "yaml", "status"],
        &["--timeout", "0", "status"],
    ] {
        let output = bgpctl(&[&["--api", "127.0.0.1:1"], args].concat());
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
    let output = bgpctl(&["route", "add", "198.51.100.0/24", "--as-path", "{65010"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unbalanced braces"), "{stderr}");
    // A malformed --api is a usage error too, in one line.
    let output = bgpctl(&["--api", "nonsense", "status"]);
    assert_failure(&output, 2, "--api \"nonsense\"");
}

#[test]
fn help_documents_the_exit_codes() {
    let output = bgpctl(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("Exit codes:"), "{help}");
    for line in ["1  bgpd refused", "2  bad usage", "3  bgpd cannot be reached"] {
        assert!(help.contains(line), "{line}: {help}");
    }
    assert!(help.contains("BGPCTL_API"), "{help}");
}

#[test]
fn owner_list_shows_who_holds_paths() {
    let daemon = start("");
    assert_eq!(daemon.json(&["owner", "list"])["owners"], serde_json::json!([]));
    daemon.ok(&["route", "add", "198.51.100.0/24", "198.51.100.1/32"]);
    daemon.ok(&["route", "add", "203.0.113.0/24", "--owner", "lb"]);
    let table = daemon.ok(&["owner", "list"]);
    let mut lines = table.lines();
    let header = lines.next().expect("header");
    assert!(header.starts_with("Owner") && header.contains("Paths"), "{table}");
    let bgpctl_row = lines.next().expect("bgpctl's row");
    assert!(bgpctl_row.starts_with("bgpctl") && bgpctl_row.contains("unleased"), "{table}");
    assert!(bgpctl_row.split_whitespace().any(|cell| cell == "2"), "{table}");
    assert!(lines.next().is_some_and(|row| row.starts_with("lb ")), "{table}");

    let json = daemon.json(&["owner", "list"]);
    assert_eq!(json["owners"][0]["name"], "bgpctl");
    assert_eq!(json["owners"][0]["pathCount"], "2");
    assert_eq!(json["owners"][0]["state"], "OWNER_STATE_UNLEASED");
    assert_eq!(json["owners"][1]["name"], "lb");
}

#[test]
fn watch_of_an_unreachable_bgpd_is_exit_3() {
    let output = bgpctl(&["--api", &format!("127.0.0.1:{}", free_port()), "watch"]);
    assert_failure(&output, 3, "cannot reach bgpd");
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let daemon = start("");
    let prefixes: Vec<String> = (0..=255).map(|i| format!("198.51.100.{i}/32")).collect();
    let mut args = vec!["route", "add"];
    args.extend(prefixes.iter().map(String::as_str));
    daemon.ok(&args);
    for format in ["table", "json"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bgpctl"))
            .args(["--api", &daemon.api, "-o", format, "route", "list"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start bgpctl");
        // Like `bgpctl route list | head -1`: the reader goes away.
        drop(child.stdout.take());
        let output = child.wait_with_output().expect("bgpctl exits");
        assert_eq!(output.status.code(), Some(0), "{format}: {output:?}");
        assert!(output.stderr.is_empty(), "{format}: {}", String::from_utf8_lossy(&output.stderr));
    }
}

#[test]
fn policy_list_and_the_policy_section_of_neighbor_show() {
    let daemon = start(
        "[[neighbors]]\naddress = \"127.0.0.2\"\nremote_asn = 65002\n\
         import_policy = [\"import-services\"]\n\
         [[prefix_sets]]\nname = \"services\"\nprefixes = [\"198.51.100.0/24 le 32\"]\n\
         [[policies]]\nname = \"import-services\"\ndefault = \"reject\"\n\
         [[policies.statements]]\nmatch.prefix_set = \"services\"\naction = \"accept\"\n",
    );
    let table = daemon.ok(&["policy", "list"]);
    let row = table.lines().find(|l| l.starts_with("import-services")).expect("the policy");
    for cell in ["reject", "services", "127.0.0.2"] {
        assert!(row.contains(cell), "{cell} missing: {row}");
    }
    assert!(table.contains("accept-all (built-in)"), "{table}");
    let set = table.lines().find(|l| l.starts_with("services")).expect("the set");
    assert!(set.contains("prefix") && set.contains("198.51.100.0/24 le 32"), "{set}");
    let json = daemon.json(&["policy", "list"]);
    assert_eq!(json["policies"][2]["name"], "import-services");
    assert_eq!(json["policies"][2]["importPeers"][0], "127.0.0.2");
    assert_eq!(json["sets"][0]["kind"], "POLICY_SET_KIND_PREFIX");

    // eBGP with an import chain only: RFC 8212 blocks the export side.
    let detail = daemon.ok(&["neighbor", "show", "127.0.0.2"]);
    assert!(detail.contains("\nPolicy\n"), "{detail}");
    assert!(detail.contains("import-services"), "{detail}");
    assert!(detail.contains("none: RFC 8212 blocks it, no route is sent"), "{detail}");
}

/// deploy/'s probes of the bgpd container run `bgpctl --api unix:SOCKET --timeout 2
/// status` (k8s-adapter/tests/manifests.rs checks the manifests use this form on bgpd's
/// configured socket): it succeeds while bgpd serves and fails with exit 3 once bgpd is
/// gone, which is what the kubelet's exec probe acts on.
#[test]
fn the_deployed_probe_command_tells_a_serving_bgpd_from_a_gone_one() {
    let directory = scratch_directory();
    let api = format!("unix:{}", directory.join("bgpd.sock").display());
    let probe = ["--api", api.as_str(), "--timeout", "2", "status"];
    let daemon = bgpctl_support::start_in(directory, "", &api);
    let output = bgpctl(&probe);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    drop(daemon);
    let output = bgpctl(&probe);
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
}
