//! The realistic policy of the routing-policy issue's speed check, written
//! twice: for bgpd (TOML) and as the equivalent BIRD filters. Ten statements
//! each way; a prefix set of 1,000 entries (10.X.Y.0/24 and longer, a quarter
//! of the feed), a community match, an AS-path pattern, set actions.
//!
//! Import: bogons, over-long paths, blackholed routes and paths through a
//! private transit AS are rejected; customer prefixes get LOCAL_PREF 200 and a
//! community; a tagged community lowers LOCAL_PREF; incomplete origins get 80
//! and go on; a banned neighbour AS is rejected; IPv6 is accepted as is; the
//! rest is tagged and accepted. Export: the mirror image with MEDs.

use std::fmt::Write;

/// The customer prefix set's entries: 10.X.Y.0/24 for the first 1,000 (X, Y).
fn customers() -> impl Iterator<Item = (u32, u32)> {
    (0..1_000u32).map(|i| (i / 256, i % 256))
}

const BOGONS: [&str; 5] =
    ["0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4"];

/// bgpd's sets and the policies `import-realistic` and `export-realistic`.
pub fn bgpd() -> String {
    let mut c = String::new();
    let bogons: Vec<String> = BOGONS.iter().map(|p| format!("\"{p} le 32\"")).collect();
    let _ = writeln!(c, "[[prefix_sets]]\nname = \"bogons\"\nprefixes = [{}]\n", bogons.join(", "));
    let customers: Vec<String> =
        customers().map(|(x, y)| format!("\"10.{x}.{y}.0/24 le 32\"")).collect();
    let _ = writeln!(
        c,
        "[[prefix_sets]]\nname = \"customers\"\nprefixes = [{}]\n",
        customers.join(", ")
    );
    for (name, community) in
        [("blackhole", "65535:666"), ("tagged-low", "65001:50"), ("no-export-out", "65002:666")]
    {
        let _ =
            writeln!(c, "[[community_sets]]\nname = \"{name}\"\ncommunities = [\"{community}\"]\n");
    }
    let _ = writeln!(c, "[[as_path_sets]]\nname = \"private-transit\"\npatterns = [\"_64512_\"]\n");
    let statement = |c: &mut String, body: &str| {
        let _ = writeln!(c, "[[policies.statements]]\n{body}\n");
    };
    let _ = writeln!(c, "[[policies]]\nname = \"import-realistic\"\ndefault = \"accept\"\n");
    statement(&mut c, "match.prefix_set = \"bogons\"\naction = \"reject\"");
    statement(&mut c, "match.as_path_length = \"ge 50\"\naction = \"reject\"");
    statement(&mut c, "match.community_set = \"blackhole\"\naction = \"reject\"");
    statement(&mut c, "match.as_path_set = \"private-transit\"\naction = \"reject\"");
    statement(
        &mut c,
        "match.prefix_set = \"customers\"\nset.local_pref = 200\n\
         set.communities_add = [\"65002:100\"]\naction = \"accept\"",
    );
    statement(
        &mut c,
        "match.community_set = \"tagged-low\"\nset.local_pref = 50\naction = \"accept\"",
    );
    statement(&mut c, "match.origin = \"incomplete\"\nset.local_pref = 80\naction = \"next\"");
    statement(&mut c, "match.neighbor_asn = 65009\naction = \"reject\"");
    statement(&mut c, "match.family = \"ipv6-unicast\"\naction = \"accept\"");
    statement(&mut c, "set.communities_add = [\"65002:200\"]\naction = \"accept\"");
    let _ = writeln!(c, "[[policies]]\nname = \"export-realistic\"\ndefault = \"accept\"\n");
    statement(&mut c, "match.community_set = \"no-export-out\"\naction = \"reject\"");
    statement(&mut c, "match.prefix_set = \"bogons\"\naction = \"reject\"");
    statement(&mut c, "match.as_path_length = \"ge 50\"\naction = \"reject\"");
    statement(&mut c, "match.community_set = \"blackhole\"\naction = \"reject\"");
    statement(&mut c, "match.as_path_set = \"private-transit\"\naction = \"reject\"");
    statement(&mut c, "match.prefix_set = \"customers\"\nset.med = 10\naction = \"accept\"");
    statement(&mut c, "match.community_set = \"tagged-low\"\nset.med = 50\naction = \"accept\"");
    statement(&mut c, "match.origin = \"incomplete\"\nset.med = 80\naction = \"next\"");
    statement(&mut c, "match.neighbor_asn = 65009\naction = \"reject\"");
    statement(&mut c, "set.med = 100\naction = \"accept\"");
    c
}

/// BIRD's sets and the filters `import_realistic` and `export_realistic`.
pub fn bird() -> String {
    let mut c = String::new();
    let bogons: Vec<String> = BOGONS.iter().map(|p| format!("{p}+")).collect();
    let _ = writeln!(c, "define bogons = [ {} ];", bogons.join(", "));
    let customers: Vec<String> = customers().map(|(x, y)| format!("10.{x}.{y}.0/24+")).collect();
    let _ = writeln!(c, "define customers = [ {} ];", customers.join(", "));
    c.push_str(
        "filter import_realistic {
  if net ~ bogons then reject;
  if bgp_path.len >= 50 then reject;
  if (65535,666) ~ bgp_community then reject;
  if bgp_path ~ [= * 64512 * =] then reject;
  if net ~ customers then { bgp_local_pref = 200; bgp_community.add((65002,100)); accept; }
  if (65001,50) ~ bgp_community then { bgp_local_pref = 50; accept; }
  if bgp_origin = ORIGIN_INCOMPLETE then bgp_local_pref = 80;
  if bgp_path.first = 65009 then reject;
  if net.type = NET_IP6 then accept;
  bgp_community.add((65002,200));
  accept;
}
filter export_realistic {
  if (65002,666) ~ bgp_community then reject;
  if net ~ bogons then reject;
  if bgp_path.len >= 50 then reject;
  if (65535,666) ~ bgp_community then reject;
  if bgp_path ~ [= * 64512 * =] then reject;
  if net ~ customers then { bgp_med = 10; accept; }
  if (65001,50) ~ bgp_community then { bgp_med = 50; accept; }
  if bgp_origin = ORIGIN_INCOMPLETE then bgp_med = 80;
  if bgp_path.first = 65009 then reject;
  bgp_med = 100;
  accept;
}
",
    );
    c
}
