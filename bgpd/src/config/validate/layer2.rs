//! Validation of `[[layer2]]` (an address and the interfaces to answer ARP
//! or NDP for it on) and `[layer2_gratuitous]` (how takeovers are
//! announced). A submodule of `validate`, sharing its `Validator`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::super::error::Problem;
use super::super::model::{Announcement, GratuitousSettings};
use super::super::raw::{RawLayer2, RawLayer2Gratuitous};
use super::super::values::parse_address;
use super::{Scope, Validator};
use crate::layer2::announcer::{
    DEFAULT_GRATUITOUS_INTERVAL, DEFAULT_GRATUITOUS_REPEATS, announceable, valid_interface_name,
};

/// Most gratuitous repeats: beyond a few, they only flood the segment.
pub(in crate::config) const MAX_GRATUITOUS_REPEATS: u32 = 100;
/// Shortest and longest gap between repeats, milliseconds.
pub(in crate::config) const GRATUITOUS_INTERVAL_MS: (u32, u32) = (10, 60_000);

impl Validator<'_> {
    pub(super) fn layer2(&mut self, raw: &[Spanned<RawLayer2>]) -> Option<Vec<Announcement>> {
        let mut seen: HashMap<IpAddr, Range<usize>> = HashMap::new();
        let mut entries = Some(Vec::with_capacity(raw.len()));
        for (index, item) in raw.iter().enumerate() {
            let scope = Scope { name: "layer2", index: Some(index), span: item.span() };
            let entry = self.layer2_entry(&scope, item.get_ref(), &mut seen);
            match (entry, entries.as_mut()) {
                (Some(entry), Some(list)) => list.push(entry),
                _ => entries = None,
            }
        }
        entries
    }

    fn layer2_entry(
        &mut self,
        scope: &Scope,
        raw: &RawLayer2,
        seen: &mut HashMap<IpAddr, Range<usize>>,
    ) -> Option<Announcement> {
        let address = self.required(scope, "address", &raw.address).and_then(|value| {
            let address = self.check(scope, "address", value, |s| {
                let address = parse_address(s)?;
                if announceable(address) { Ok(address) } else { Err(Problem::NotAnnounceable) }
            })?;
            self.unique(seen, address, value.span(), scope, "address", value.get_ref())
                .then_some(address)
        });
        let interfaces = self.required(scope, "interfaces", &raw.interfaces).and_then(|list| {
            if list.get_ref().is_empty() {
                let key = scope.key("interfaces");
                self.invalid(list.span(), key, "[]".to_string(), Problem::NoInterfaces);
                return None;
            }
            // Names are checked and deduplicated through their index in the list.
            let names = list.get_ref();
            let indices = self.list(scope, "interfaces", names, |name| {
                interface_name(name)?;
                Ok(names.iter().position(|n| n.get_ref() == name).unwrap_or(0))
            })?;
            Some(indices.into_iter().map(|i| names[i].get_ref().clone()).collect())
        });
        Some(Announcement { address: address?, interfaces: interfaces? })
    }

    pub(super) fn layer2_gratuitous(
        &mut self,
        raw: Option<&Spanned<RawLayer2Gratuitous>>,
    ) -> Option<GratuitousSettings> {
        let Some(raw) = raw else {
            return Some(GratuitousSettings::default());
        };
        let scope = Scope { name: "layer2_gratuitous", index: None, span: raw.span() };
        let g = raw.get_ref();
        let repeats = self.integer(
            &scope,
            "repeats",
            &g.repeats,
            (0, MAX_GRATUITOUS_REPEATS),
            DEFAULT_GRATUITOUS_REPEATS,
        );
        let default_ms = u32::try_from(DEFAULT_GRATUITOUS_INTERVAL.as_millis()).unwrap_or(500);
        let interval_ms =
            self.integer(&scope, "interval_ms", &g.interval_ms, GRATUITOUS_INTERVAL_MS, default_ms);
        Some(GratuitousSettings {
            repeats: repeats?,
            interval: Duration::from_millis(u64::from(interval_ms?)),
        })
    }
}

fn interface_name(name: &str) -> Result<(), Problem> {
    if valid_interface_name(name) { Ok(()) } else { Err(Problem::InterfaceName) }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::time::Duration;

    use crate::config::Config;
    use crate::layer2::announcer::{Announcement, GratuitousSettings};

    const GLOBAL: &str = "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n";

    fn errors(body: &str) -> Vec<String> {
        match Config::from_str_named(&format!("{GLOBAL}{body}"), "t.toml") {
            Ok(_) => Vec::new(),
            Err(errors) => errors.errors.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn entries_and_settings_parse_with_defaults() {
        let text = format!(
            "{GLOBAL}[[layer2]]\naddress = \"198.51.100.50\"\ninterfaces = [\"eth0\"]\n\n\
             [[layer2]]\naddress = \"2001:db8::50\"\ninterfaces = [\"eth0\", \"eth1\"]\n"
        );
        let config: Config = text.parse().unwrap();
        let address = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            config.layer2,
            vec![
                Announcement { address: address("198.51.100.50"), interfaces: vec!["eth0".into()] },
                Announcement {
                    address: address("2001:db8::50"),
                    interfaces: vec!["eth0".into(), "eth1".into()]
                },
            ]
        );
        assert_eq!(config.layer2_gratuitous, GratuitousSettings::default());
        let tuned: Config =
            format!("{GLOBAL}[layer2_gratuitous]\nrepeats = 5\ninterval_ms = 200\n")
                .parse()
                .unwrap();
        assert_eq!(
            tuned.layer2_gratuitous,
            GratuitousSettings { repeats: 5, interval: Duration::from_millis(200) }
        );
        let none: Config = GLOBAL.parse().unwrap();
        assert!(none.layer2.is_empty());
    }

    #[test]
    fn every_problem_is_located_and_named() {
        let found = errors(
            "[[layer2]]\naddress = \"198.51.100.300\"\ninterfaces = [\"eth0\"]\n\
             [[layer2]]\naddress = \"224.0.0.5\"\ninterfaces = []\n\
             [[layer2]]\naddress = \"198.51.100.50\"\ninterfaces = [\"eth0\", \"eth0\", \"a/b\"]\n\
             [[layer2]]\naddress = \"198.51.100.50\"\n\
             [layer2_gratuitous]\nrepeats = 1000\ninterval_ms = 1\n",
        );
        assert_eq!(
            found,
            vec![
                "t.toml:5:11: layer2[0].address = \"198.51.100.300\": not an IP address: invalid IP address syntax",
                "t.toml:8:11: layer2[1].address = \"224.0.0.5\": the unspecified, loopback, multicast and broadcast addresses belong to no one host",
                "t.toml:9:14: layer2[1].interfaces = []: must name at least one interface",
                "t.toml:12:23: layer2[2].interfaces[1] = \"eth0\": duplicate of the one at line 12, column 15",
                "t.toml:12:31: layer2[2].interfaces[2] = \"a/b\": is not an interface name (1 to 15 bytes, no '/', ':' or whitespace)",
                "t.toml:13:1: missing required key layer2[3].interfaces",
                "t.toml:14:11: layer2[3].address = \"198.51.100.50\": duplicate of the one at line 11, column 11",
                "t.toml:16:11: layer2_gratuitous.repeats = 1000: must be 0..=100",
                "t.toml:17:15: layer2_gratuitous.interval_ms = 1: must be 10..=60000",
            ]
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let found = errors("[[layer2]]\naddress = \"198.51.100.50\"\ninterface = \"eth0\"\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("t.toml:6:1: unknown field `interface`"), "{found:?}");
        let found = errors("[layer2_gratuitous]\ncount = 3\n");
        assert!(found[0].starts_with("t.toml:5:1: unknown field `count`"), "{found:?}");
    }
}
