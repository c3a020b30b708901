//! Routing policy of the sessions (issue #12): which import and export chains
//! the RIB applies to each peer, RFC 8212's default for eBGP peers without
//! one, and changed chains applied to running sessions without a reset.
//!
//! A neighbor's `import_policy` / `export_policy` name policies of the
//! config's book. An empty list is "no policy": accept everything for iBGP
//! (and for eBGP with `ebgp_requires_policy = false`), nothing at all for
//! eBGP otherwise (RFC 8212 §2), with a warning at session start naming the
//! peer and the direction.
//!
//! After a reload that changes a peer's chains (or the book, or
//! `ebgp_requires_policy`), the new chains are handed to the RIB and the
//! routes evaluated again: outbound at once, by re-running the export
//! decision for the whole table (prefixes no longer accepted are withdrawn);
//! inbound from the routes kept as received when the neighbor has
//! `soft_reconfiguration_inbound` (`rib::soft_in`), otherwise by asking the
//! peer to send its routes again (ROUTE-REFRESH, RFC 2918). A peer that did
//! not advertise route refresh and has no kept copy keeps its routes as the
//! old chain judged them until its session restarts (logged).

use std::sync::Arc;

use super::Instance;
use super::status::Rfc8212Blocks;
use crate::config::{Config, Neighbor};
use crate::peer::SessionCommand;
use crate::policy::{CompiledChain, Context, REJECT_ALL};
use crate::rib::{PeerId, PeerPolicy};
use crate::wire::RefreshSubtype;

/// A direction a peer's policy blocks entirely because RFC 8212 applies.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Blocked {
    Import,
    Export,
}

/// The chains for `neighbor` once its session is up with a peer of `peer_asn`,
/// and the directions RFC 8212 blocks for lack of a policy.
pub(super) fn peer_policy(
    config: &Config,
    neighbor: &Neighbor,
    peer_asn: u32,
) -> (PeerPolicy, Vec<Blocked>) {
    let own_asn = neighbor.own_asn(config.global.asn);
    let ebgp = peer_asn != own_asn;
    let requires = ebgp && config.global.ebgp_requires_policy;
    let mut blocked = Vec::new();
    let mut chain = |names: &[String], direction| -> Option<Arc<CompiledChain>> {
        if names.is_empty() {
            if !requires {
                return None;
            }
            blocked.push(direction);
            return Some(Arc::new(reject_all(config)));
        }
        match config.policies.chain(names) {
            Ok(chain) => Some(Arc::new(chain)),
            Err(unknown) => {
                // Validated in the config and the API: only a bug gets here.
                tracing::error!(peer = %neighbor.address, %unknown, "policy chain refused: nothing passes");
                Some(Arc::new(reject_all(config)))
            }
        }
    };
    let import = chain(&neighbor.import_policy, Blocked::Import);
    let export = chain(&neighbor.export_policy, Blocked::Export);
    let context = Context { local_asn: own_asn, neighbor_asn: peer_asn };
    (PeerPolicy { import, export, context }, blocked)
}

/// The status's form of `blocked`.
pub(super) fn blocks(blocked: &[Blocked]) -> Rfc8212Blocks {
    Rfc8212Blocks {
        import: blocked.contains(&Blocked::Import),
        export: blocked.contains(&Blocked::Export),
    }
}

/// What RFC 8212 will block for `neighbor` before any session (the
/// configured remote AS; 0, any external AS, is eBGP).
pub(super) fn expected_blocks(config: &Config, neighbor: &Neighbor) -> Rfc8212Blocks {
    blocks(&peer_policy(config, neighbor, neighbor.remote_asn).1)
}

fn reject_all(config: &Config) -> CompiledChain {
    config.policies.chain(&[REJECT_ALL]).unwrap_or_else(|_| CompiledChain::new(Vec::new()))
}

impl Instance {
    /// Hands the RIB the chains of established peer `id`, warning when RFC
    /// 8212 blocks a direction.
    pub(super) fn set_peer_policy(&mut self, id: PeerId, peer_asn: u32) {
        let Some(slot) = self.peers.get_mut(&id) else { return };
        let (policy, blocked) = peer_policy(&self.config, &slot.neighbor, peer_asn);
        slot.status.rfc8212 = blocks(&blocked);
        for direction in blocked {
            let (what, key) = match direction {
                Blocked::Import => ("no route is accepted from", "import_policy"),
                Blocked::Export => ("no route is sent to", "export_policy"),
            };
            tracing::warn!(
                peer = %slot.neighbor.address,
                "{what} this eBGP neighbor: it has no {key} and global.ebgp_requires_policy is true (RFC 8212)"
            );
        }
        if let Err(error) = self.rib.set_peer_policy(id, policy) {
            tracing::error!(%error, "cannot set the policy of an established peer");
        }
    }

    /// What RFC 8212 will block, for every peer without a session (after a
    /// change of the config or a neighbor; established peers get theirs from
    /// [`Instance::set_peer_policy`]).
    pub(super) fn refresh_expected_blocks(&mut self) {
        for slot in self.peers.values_mut().filter(|slot| !slot.established) {
            slot.status.rfc8212 = expected_blocks(&self.config, &slot.neighbor);
        }
    }

    /// A reload changed the policies of the established peers `ids`: apply
    /// the new chains to what they were sent and ask them for their routes
    /// again (see the module documentation).
    pub(super) fn reapply_policies(&mut self, ids: &[PeerId]) {
        for &id in ids {
            let Some(slot) = self.peers.get(&id) else { continue };
            let Some(facts) = slot.status.established.clone().filter(|_| slot.established) else {
                continue;
            };
            self.set_peer_policy(id, facts.asn);
            for family in &facts.families {
                if let Err(error) = self.rib.queue_full_table(id, *family) {
                    tracing::warn!(%error, "cannot queue the table after a policy change");
                }
            }
            let Some(slot) = self.peers.get(&id) else { continue };
            // Soft reconfiguration: from the kept routes when there are any
            // (turned on just now, the refresh below fills the copy).
            let wants = slot.neighbor.soft_reconfiguration_inbound;
            let keeps = self.rib.keeps_pre_policy(id);
            if wants != keeps
                && let Err(error) = self.rib.set_soft_reconfiguration(id, wants)
            {
                tracing::error!(%error, "cannot change soft reconfiguration");
            }
            if wants && keeps {
                match self.rib.reapply_import(id) {
                    Ok(stats) => tracing::info!(
                        peer = %slot.neighbor.address,
                        accepted = stats.map_or(0, |s| s.announced),
                        rejected = stats.map_or(0, |s| s.filtered),
                        "import policy re-applied from the routes kept as received (soft reconfiguration)"
                    ),
                    Err(error) => tracing::error!(%error, "cannot re-apply the import policy"),
                }
                self.export_due = true;
                self.max_prefix_check(id, &facts.families);
                self.pump(id);
                continue;
            }
            if facts.route_refresh {
                for family in &facts.families {
                    slot.session
                        .send(SessionCommand::RefreshMarker(*family, RefreshSubtype::Request));
                }
            } else {
                tracing::warn!(
                    peer = %slot.neighbor.address,
                    "import policy changed, but the peer does not support route refresh: its routes are judged by the new policy once it sends them again"
                );
            }
            tracing::info!(peer = %slot.neighbor.address, "policy changed: routes evaluated again");
            self.pump(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(requires: bool) -> Config {
        format!(
            "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nebgp_requires_policy = {requires}\n\
             [[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n\
             [[neighbors]]\naddress = \"192.0.2.3\"\nremote_asn = 65002\n\
             import_policy = [\"accept-all\"]\nexport_policy = [\"reject-all\"]\n\
             [[neighbors]]\naddress = \"192.0.2.4\"\nremote_asn = 65001\n"
        )
        .parse()
        .unwrap()
    }

    #[test]
    fn rfc8212_blocks_ebgp_without_policy_only() {
        let config = config(true);
        let (bare, blocked) = peer_policy(&config, &config.neighbors[0], 65002);
        assert_eq!(blocked, [Blocked::Import, Blocked::Export]);
        assert!(bare.import.as_ref().is_some_and(|c| c.rejects_all()));
        assert!(bare.export.as_ref().is_some_and(|c| c.rejects_all()));
        assert_eq!(bare.context, Context { local_asn: 65001, neighbor_asn: 65002 });
        let (explicit, blocked) = peer_policy(&config, &config.neighbors[1], 65002);
        assert!(blocked.is_empty());
        assert!(explicit.import.as_ref().is_some_and(|c| c.accepts_all()));
        assert!(explicit.export.as_ref().is_some_and(|c| c.rejects_all()));
        let (ibgp, blocked) = peer_policy(&config, &config.neighbors[2], 65001);
        assert!(blocked.is_empty());
        assert!(ibgp.import.is_none() && ibgp.export.is_none(), "iBGP is not affected");
    }

    #[test]
    fn without_the_requirement_no_policy_accepts_everything() {
        let config = config(false);
        let (bare, blocked) = peer_policy(&config, &config.neighbors[0], 65002);
        assert!(blocked.is_empty());
        assert!(bare.import.is_none() && bare.export.is_none());
    }

    #[test]
    fn the_neighbor_local_as_decides_ibgp_and_is_the_policy_context() {
        let config: Config = "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n\
             [[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65100\nlocal_asn = 65100\n\
             [[neighbors]]\naddress = \"192.0.2.3\"\nremote_asn = 65001\nlocal_asn = 65100\n"
            .parse()
            .unwrap();
        // Same AS as our local_asn towards it: iBGP, RFC 8212 does not apply.
        let (internal, blocked) = peer_policy(&config, &config.neighbors[0], 65100);
        assert!(blocked.is_empty());
        assert_eq!(internal.context, Context { local_asn: 65100, neighbor_asn: 65100 });
        // The daemon's AS is another AS seen from a local_asn of 65100: eBGP.
        let (external, blocked) = peer_policy(&config, &config.neighbors[1], 65001);
        assert_eq!(blocked, [Blocked::Import, Blocked::Export]);
        assert_eq!(external.context.local_asn, 65100, "set.as_path_prepend prepends it");
    }
}
