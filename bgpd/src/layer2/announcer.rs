//! The announcer: which addresses are announced on which interfaces, what to
//! answer, and when to send gratuitous messages. Sans-IO: events in (a
//! declarative set per owner, link states, parsed requests, the time),
//! [`Action`]s out (open or close an interface, join or leave a multicast
//! group, send a frame), so every rule is unit-tested without sockets.
//!
//! Takeover (an address added, or its interface coming up) sends at once a
//! gratuitous ARP request and reply (RFC 5227 §3, RFC 5944 §4.6) or an
//! unsolicited Neighbor Advertisement with Override (RFC 4861 §7.2.6), then
//! repeats them [`GratuitousSettings::repeats`] times, one
//! [`GratuitousSettings::interval`] apart, in case the first were lost.
//! Withdrawal stops answers at the next request: nothing is sent to undo an
//! announcement, the new owner's gratuitous messages do that.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use super::arp::{ARP_FRAME_LEN, ArpOperation, ArpPacket, MacAddress};
use super::ndp::{NDP_FRAME_MAX, NdpMessage, NdpPacket, multicast_mac, solicited_node};

/// Gratuitous repeats after the first burst, by default: three more.
pub const DEFAULT_GRATUITOUS_REPEATS: u32 = 3;
/// Time between gratuitous repeats, by default: the three repeats cover the
/// 1.5 s after a takeover, long enough to outlast a lost frame or a switch
/// port that is still learning, short enough to be done before anyone
/// retries ARP.
pub const DEFAULT_GRATUITOUS_INTERVAL: Duration = Duration::from_millis(500);

/// How takeovers are announced.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct GratuitousSettings {
    pub repeats: u32,
    pub interval: Duration,
}

impl Default for GratuitousSettings {
    fn default() -> Self {
        Self { repeats: DEFAULT_GRATUITOUS_REPEATS, interval: DEFAULT_GRATUITOUS_INTERVAL }
    }
}

/// One address to announce and the interfaces to announce it on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    pub address: IpAddr,
    pub interfaces: Vec<String>,
}

/// What the system says about one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkState {
    pub name: String,
    pub index: u32,
    pub mac: MacAddress,
    /// Administratively up and with carrier (`operstate` up or unknown).
    pub up: bool,
    /// `IFF_NOARP`: the interface does no address resolution.
    pub noarp: bool,
}

/// Whether an address is announced on one of its interfaces, and if not why.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum InterfaceStatus {
    Announcing,
    /// No interface of that name (yet): it is announced once one appears.
    Missing,
    Down,
    NoArp,
}

/// Per-address counters, kept while the address stays announced.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// ARP requests and neighbour solicitations for the address received on
    /// an interface it is announced on.
    pub requests_seen: u64,
    pub replies_sent: u64,
    pub gratuitous_sent: u64,
}

/// What [`Announcer::list`] reports about one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnouncementStatus {
    pub address: IpAddr,
    pub owner: String,
    pub interfaces: Vec<(String, InterfaceStatus)>,
    pub counters: Counters,
}

/// The difference one [`Announcer::set`] made, in address order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetOutcome {
    pub added: Vec<IpAddr>,
    pub removed: Vec<IpAddr>,
    /// Kept, with a different list of interfaces.
    pub changed: Vec<IpAddr>,
}

/// An address already announced for another owner.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{address} is announced for owner {holder:?}")]
pub struct Conflict {
    pub address: IpAddr,
    pub holder: String,
}

/// A frame ready for the wire, kept inline (no allocation per frame).
#[derive(Copy, Clone, PartialEq, Eq)]
pub struct Frame {
    length: usize,
    bytes: [u8; NDP_FRAME_MAX],
}

impl Frame {
    fn arp(packet: &ArpPacket) -> Frame {
        let mut bytes = [0; NDP_FRAME_MAX];
        let mut arp = [0; ARP_FRAME_LEN];
        packet.encode(&mut arp);
        bytes[..ARP_FRAME_LEN].copy_from_slice(&arp);
        Frame { length: ARP_FRAME_LEN, bytes }
    }

    fn ndp(packet: &NdpPacket) -> Frame {
        let mut bytes = [0; NDP_FRAME_MAX];
        let length = packet.encode(&mut bytes);
        Frame { length, bytes }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.length]
    }
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frame({} bytes)", self.length)
    }
}

/// What the I/O side must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Start listening on the interface with this index.
    Open {
        link: u32,
    },
    /// Stop listening; its memberships go with its socket.
    Close {
        link: u32,
    },
    Join {
        link: u32,
        group: MacAddress,
    },
    Leave {
        link: u32,
        group: MacAddress,
    },
    Send {
        link: u32,
        frame: Frame,
    },
}

#[derive(Clone, Debug)]
struct Binding {
    interface: String,
    /// The link index while the address is announced on it.
    link: Option<u32>,
    /// Gratuitous messages still owed: how many, and when the next is due.
    remaining: u32,
    next: Option<Instant>,
}

#[derive(Clone, Debug)]
struct Entry {
    owner: String,
    bindings: Vec<Binding>,
    counters: Counters,
}

/// The announcer. See the module documentation.
#[derive(Debug, Default)]
pub struct Announcer {
    settings: GratuitousSettings,
    entries: BTreeMap<IpAddr, Entry>,
    links: HashMap<String, LinkState>,
    /// Open links and the groups joined on each.
    open: BTreeMap<u32, BTreeSet<MacAddress>>,
    /// MAC of each open link, for answers.
    macs: HashMap<u32, MacAddress>,
}

impl Announcer {
    pub fn new(settings: GratuitousSettings) -> Self {
        Self { settings, ..Self::default() }
    }

    /// Applies to the next takeover; repeats already scheduled keep going.
    pub fn set_settings(&mut self, settings: GratuitousSettings) {
        self.settings = settings;
    }

    /// Makes `wanted` the announcements of `owner`, replacing what it had.
    /// Nothing changes when an address is held by another owner.
    pub fn set(
        &mut self,
        owner: &str,
        wanted: &[Announcement],
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Result<SetOutcome, Conflict> {
        for announcement in wanted {
            if let Some(entry) = self.entries.get(&announcement.address)
                && entry.owner != owner
            {
                return Err(Conflict {
                    address: announcement.address,
                    holder: entry.owner.clone(),
                });
            }
        }
        let wanted_addresses: BTreeSet<IpAddr> = wanted.iter().map(|a| a.address).collect();
        let mut outcome = SetOutcome::default();
        self.entries.retain(|address, entry| {
            let keep = entry.owner != owner || wanted_addresses.contains(address);
            if !keep {
                outcome.removed.push(*address);
            }
            keep
        });
        for announcement in wanted {
            let mut interfaces: Vec<&String> = announcement.interfaces.iter().collect();
            interfaces.sort();
            interfaces.dedup();
            match self.entries.get_mut(&announcement.address) {
                Some(entry) => {
                    let old: Vec<&String> = entry.bindings.iter().map(|b| &b.interface).collect();
                    if old == interfaces {
                        continue;
                    }
                    let mut kept = Vec::with_capacity(interfaces.len());
                    for name in interfaces {
                        match entry.bindings.iter().position(|b| &b.interface == name) {
                            Some(at) => kept.push(entry.bindings.swap_remove(at)),
                            None => kept.push(Binding::new(name)),
                        }
                    }
                    kept.sort_by(|a, b| a.interface.cmp(&b.interface));
                    entry.bindings = kept;
                    outcome.changed.push(announcement.address);
                }
                None => {
                    let bindings = interfaces.into_iter().map(|n| Binding::new(n)).collect();
                    let entry =
                        Entry { owner: owner.to_string(), bindings, counters: Counters::default() };
                    self.entries.insert(announcement.address, entry);
                    outcome.added.push(announcement.address);
                }
            }
        }
        outcome.added.sort();
        outcome.changed.sort();
        self.reconcile(now, out);
        Ok(outcome)
    }

    /// Replaces what is known about the system's interfaces.
    pub fn set_links(&mut self, links: Vec<LinkState>, now: Instant, out: &mut Vec<Action>) {
        self.links = links.into_iter().map(|l| (l.name.clone(), l)).collect();
        self.reconcile(now, out);
    }

    /// The names of interfaces some announcement wants.
    pub fn wanted_interfaces(&self) -> BTreeSet<&str> {
        self.entries
            .values()
            .flat_map(|e| e.bindings.iter().map(|b| b.interface.as_str()))
            .collect()
    }

    /// Brings bindings, open links and memberships in line with the entries
    /// and links; starts a takeover burst where an address became announced.
    fn reconcile(&mut self, now: Instant, out: &mut Vec<Action>) {
        let mut wanted: BTreeMap<u32, BTreeSet<MacAddress>> = BTreeMap::new();
        let mut takeovers = Vec::new();
        for (address, entry) in &mut self.entries {
            for binding in &mut entry.bindings {
                let link = self.links.get(&binding.interface).filter(|l| usable(l));
                let index = link.map(|l| l.index);
                if index != binding.link {
                    binding.link = index;
                    binding.remaining = 0;
                    binding.next = None;
                    if let Some(index) = index {
                        takeovers.push((*address, index));
                        binding.remaining = self.settings.repeats;
                        binding.next =
                            (binding.remaining > 0).then(|| now + self.settings.interval);
                    }
                }
                if let Some(index) = index {
                    let groups = wanted.entry(index).or_default();
                    if let IpAddr::V6(v6) = address {
                        groups.insert(multicast_mac(solicited_node(*v6)));
                    }
                }
            }
        }
        // A link stays open while it is usable, even with nothing left to
        // announce: the next takeover on it then needs no new socket and
        // thread, only a wake-up, so its gratuitous frames leave at once.
        // Its thread passes nothing up meanwhile (see `link_targets`).
        let usable_links: BTreeSet<u32> =
            self.links.values().filter(|l| usable(l)).map(|l| l.index).collect();
        let closed: Vec<u32> = self
            .open
            .keys()
            .filter(|l| !wanted.contains_key(l) && !usable_links.contains(l))
            .copied()
            .collect();
        for link in closed {
            self.open.remove(&link);
            self.macs.remove(&link);
            out.push(Action::Close { link });
        }
        for link in self.open.keys() {
            wanted.entry(*link).or_default();
        }
        for (link, groups) in wanted {
            let joined = match self.open.get_mut(&link) {
                Some(joined) => joined,
                None => {
                    out.push(Action::Open { link });
                    self.open.entry(link).or_default()
                }
            };
            for group in joined.difference(&groups) {
                out.push(Action::Leave { link, group: *group });
            }
            for group in groups.difference(joined) {
                out.push(Action::Join { link, group: *group });
            }
            *joined = groups;
        }
        for link in self.links.values() {
            if self.open.contains_key(&link.index) {
                self.macs.insert(link.index, link.mac);
            }
        }
        for (address, link) in takeovers {
            self.gratuitous(address, link, out);
        }
    }

    /// Sends the gratuitous messages for `address` on `link`, counting them.
    fn gratuitous(&mut self, address: IpAddr, link: u32, out: &mut Vec<Action>) {
        let (Some(mac), Some(entry)) = (self.macs.get(&link), self.entries.get_mut(&address))
        else {
            return;
        };
        match address {
            IpAddr::V4(v4) => {
                for packet in
                    [ArpPacket::gratuitous_request(v4, *mac), ArpPacket::gratuitous_reply(v4, *mac)]
                {
                    out.push(Action::Send { link, frame: Frame::arp(&packet) });
                    entry.counters.gratuitous_sent += 1;
                }
            }
            IpAddr::V6(v6) => {
                let packet = NdpPacket::unsolicited_advertisement(v6, *mac);
                out.push(Action::Send { link, frame: Frame::ndp(&packet) });
                entry.counters.gratuitous_sent += 1;
            }
        }
    }

    /// Sends the repeats that are due at `now`.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<Action>) {
        let interval = self.settings.interval;
        let mut due = Vec::new();
        for (address, entry) in &mut self.entries {
            for binding in &mut entry.bindings {
                if let (Some(link), Some(next)) = (binding.link, binding.next)
                    && next <= now
                {
                    binding.remaining = binding.remaining.saturating_sub(1);
                    binding.next = (binding.remaining > 0).then(|| now + interval);
                    due.push((*address, link));
                }
            }
        }
        for (address, link) in due {
            self.gratuitous(address, link, out);
        }
    }

    /// The addresses announced on each open link, sorted: the link threads
    /// drop requests for anything else before bothering the owner.
    pub fn link_targets(&self) -> BTreeMap<u32, Vec<IpAddr>> {
        let mut targets: BTreeMap<u32, Vec<IpAddr>> =
            self.open.keys().map(|link| (*link, Vec::new())).collect();
        for (address, entry) in &self.entries {
            for link in entry.bindings.iter().filter_map(|b| b.link) {
                if let Some(list) = targets.get_mut(&link) {
                    list.push(*address);
                }
            }
        }
        targets
    }

    /// When [`Announcer::poll`] has work next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.entries.values().flat_map(|e| e.bindings.iter().filter_map(|b| b.next)).min()
    }

    /// The answer to an ARP packet received on `link`, if it asks for an
    /// address announced there. Our own frames, replies and other hosts'
    /// gratuitous requests are not answered.
    pub fn on_arp(&mut self, link: u32, packet: &ArpPacket) -> Option<Frame> {
        let mac = *self.macs.get(&link)?;
        if packet.operation != ArpOperation::Request
            || packet.sender_mac == mac
            || (packet.sender_ip == packet.target_ip && packet.sender_ip != Ipv4Addr::UNSPECIFIED)
        {
            return None;
        }
        let entry = self.announced(IpAddr::V4(packet.target_ip), link)?;
        entry.counters.requests_seen += 1;
        entry.counters.replies_sent += 1;
        Some(Frame::arp(&ArpPacket::reply_to(packet, mac)))
    }

    /// The answer to a Neighbor Solicitation received on `link`, if it asks
    /// for an address announced there.
    pub fn on_solicitation(&mut self, link: u32, packet: &NdpPacket) -> Option<Frame> {
        let mac = *self.macs.get(&link)?;
        let NdpMessage::Solicitation { target, .. } = packet.message else {
            return None;
        };
        if packet.ethernet_source == mac {
            return None;
        }
        let entry = self.announced(IpAddr::V6(target), link)?;
        entry.counters.requests_seen += 1;
        let answer = NdpPacket::advertisement_for(packet, mac)?;
        entry.counters.replies_sent += 1;
        Some(Frame::ndp(&answer))
    }

    fn announced(&mut self, address: IpAddr, link: u32) -> Option<&mut Entry> {
        self.entries
            .get_mut(&address)
            .filter(|entry| entry.bindings.iter().any(|b| b.link == Some(link)))
    }

    /// Every address with its owner, per-interface status and counters.
    pub fn list(&self) -> Vec<AnnouncementStatus> {
        self.entries
            .iter()
            .map(|(address, entry)| AnnouncementStatus {
                address: *address,
                owner: entry.owner.clone(),
                interfaces: entry
                    .bindings
                    .iter()
                    .map(|b| (b.interface.clone(), self.status(b)))
                    .collect(),
                counters: entry.counters,
            })
            .collect()
    }

    fn status(&self, binding: &Binding) -> InterfaceStatus {
        if binding.link.is_some() {
            return InterfaceStatus::Announcing;
        }
        match self.links.get(&binding.interface) {
            None => InterfaceStatus::Missing,
            Some(link) if link.noarp => InterfaceStatus::NoArp,
            Some(_) => InterfaceStatus::Down,
        }
    }
}

/// Whether a link can carry ARP and NDP: up, not NOARP, with an Ethernet
/// unicast address (loopback's is all zeros).
fn usable(link: &LinkState) -> bool {
    link.up && !link.noarp && !link.mac.is_multicast() && link.mac != MacAddress::ZERO
}

impl Binding {
    fn new(interface: &str) -> Self {
        Binding { interface: interface.to_string(), link: None, remaining: 0, next: None }
    }
}

/// Addresses an announcement may not name: they are never one host's.
pub fn announceable(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            !(v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast() || v4.is_loopback())
        }
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast() || v6.is_loopback()),
    }
}

/// `IFNAMSIZ` less its terminating zero.
const MAX_INTERFACE_NAME: usize = 15;

/// A Linux interface name: 1..=15 bytes, not `.` or `..`, no '/', ':' or
/// whitespace (the kernel's `dev_valid_name`, plus ':' which only aliases
/// use).
pub fn valid_interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_INTERFACE_NAME
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c == '/' || c == ':' || c.is_whitespace())
}

#[cfg(test)]
mod tests;
