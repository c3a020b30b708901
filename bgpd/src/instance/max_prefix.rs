//! Max-prefix (RFC 4271 §8.1.2's upper bound, RFC 4486 §4): the instance's
//! check of each neighbor's `[neighbors.max_prefixes]` after every UPDATE it
//! applies, and after a change of the limits (reload, UpdatePeer).
//!
//! - What counts is what the RIB holds from the neighbor per family, after
//!   the import policy (FRR counts the same: accepted prefixes). A prefix the
//!   policy rejects costs nothing and does not count; one it accepts counts
//!   until the neighbor withdraws it. With `soft_reconfiguration_inbound`
//!   the routes kept as received cost memory too: the larger of the two
//!   counts is checked, so the limit bounds the kept copy.
//! - Reaching `warning_percent` of a limit logs one warning per crossing (the
//!   count falling back below re-arms it). Exceeding the limit logs the peer,
//!   the family, the count and the limit, and, unless `warning_only`, stops
//!   the session with Cease / Maximum Number of Prefixes Reached carrying
//!   AFI, SAFI and the limit (RFC 4486 §4; a Hard Reset when RFC 8538 was
//!   negotiated, `gr::hard_reset_for`), which flushes the neighbor's routes.
//! - The stopped session is held down (inbound connections refused) for
//!   `restart_time` seconds, then started again; with 0 it stays down until
//!   EnablePeer or a hard ResetPeer, like FRR's `maximum-prefix N` without
//!   `restart`. Removing the limit also releases it.
//!
//! The decision ([`verdict`]) is a pure function of the limits, the count and
//! what was already said; the rest is glue.

use std::time::{Duration, Instant};

use super::{Instance, InstanceEvent};
use crate::config::MaxPrefixes;
use crate::peer::SessionCommand;
use crate::rib::{PeerId, Source};
use crate::wire::{Family, Notification, NotificationKind};

/// What was last reported about one family's count.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Said {
    /// Nothing: below the warning threshold.
    #[default]
    Nothing,
    /// The warning threshold was reached.
    Warning,
    /// The limit was exceeded (under `warning_only`, the session stays).
    Excess,
}

/// What the count of one family calls for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Nothing new to say.
    Quiet,
    /// Remember this without a word: the count fell back below a level
    /// already reported, so the next crossing is reported again.
    Rearm(Said),
    /// The warning threshold was reached.
    Warn { threshold: u64 },
    /// Over the limit with `warning_only`: log, keep the session.
    ExceededWarningOnly { limit: u32 },
    /// Over the limit: stop the session.
    TearDown { limit: u32 },
}

/// RFC 4486 §4 and FRR's semantics as a pure function: `count` prefixes of
/// `family` accepted, `said` what was reported already.
pub(super) fn verdict(limits: &MaxPrefixes, family: Family, count: u64, said: Said) -> Verdict {
    let (Some(limit), Some(threshold)) = (limits.limit(family), limits.warning_at(family)) else {
        return Verdict::Quiet;
    };
    if count > u64::from(limit) {
        return match (limits.warning_only, said) {
            (false, _) => Verdict::TearDown { limit },
            (true, Said::Excess) => Verdict::Quiet,
            (true, _) => Verdict::ExceededWarningOnly { limit },
        };
    }
    match (count >= threshold, said) {
        (true, Said::Nothing) => Verdict::Warn { threshold },
        (true, Said::Excess) => Verdict::Rearm(Said::Warning),
        (false, Said::Warning | Said::Excess) => Verdict::Rearm(Said::Nothing),
        _ => Verdict::Quiet,
    }
}

/// The Cease of RFC 4486 §4 with its optional data: AFI (2 octets), SAFI
/// (1 octet), the upper bound (4 octets).
pub(super) fn cease(family: Family, limit: u32) -> Notification {
    let afi_safi = family.afi_safi();
    let mut data = Vec::with_capacity(7);
    data.extend_from_slice(&afi_safi.afi.to_be_bytes());
    data.push(afi_safi.safi);
    data.extend_from_slice(&limit.to_be_bytes());
    Notification::new(NotificationKind::MaximumPrefixesReached, data)
}

/// Why a session is held down by its limit.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub family: Family,
    /// The count that exceeded the limit.
    pub count: u64,
    pub limit: u32,
    /// When it starts again; `None`: only EnablePeer or ResetPeer start it.
    pub until: Option<Instant>,
}

/// One neighbor's max-prefix state (part of its session status).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaxPrefixState {
    /// Per family ([`Family::index`]): what the current crossing reported.
    said: [Said; 2],
    /// Set while the session is down for exceeding a limit.
    pub held: Option<Held>,
    /// Times a limit took the session down.
    pub teardowns: u64,
    /// Identifies the restart timer armed last: an older one is stale.
    token: u64,
}

impl MaxPrefixState {
    /// Ends a hold without starting the session (the caller does); a timer
    /// still armed is stale from now on. Returns whether it was held.
    pub(super) fn release(&mut self) -> bool {
        self.token += 1;
        self.held.take().is_some()
    }

    /// What was last reported about `family`: [`Said::Excess`] while it is
    /// over its limit under `warning_only`.
    pub fn said(&self, family: Family) -> Said {
        self.said[family.index()]
    }
}

/// What `id`'s limit for `family` is checked against: the prefixes the RIB
/// holds from it, or the routes kept as received when there are more (the
/// copy kept for soft reconfiguration is memory the neighbor's routes take,
/// whatever the policy says). Also what the metrics show.
pub(super) fn max_prefix_count(rib: &crate::rib::Rib, id: PeerId, family: Family) -> u64 {
    let accepted = rib.source_routes(Source::Peer(id), family);
    accepted.max(rib.pre_policy_count(id, family)) as u64
}

impl Instance {
    /// Checks `id`'s accepted counts in `families` against its limits (after
    /// an UPDATE, or a change of the limits with every family).
    pub(super) fn max_prefix_check(&mut self, id: PeerId, families: &[Family]) {
        let Some(slot) = self.peers.get_mut(&id) else { return };
        let Some(limits) = slot.neighbor.max_prefixes else { return };
        if !slot.established {
            return;
        }
        let peer = slot.neighbor.address;
        for &family in families {
            let count = max_prefix_count(&self.rib, id, family);
            let state = &mut slot.status.max_prefix;
            let i = family.index();
            match verdict(&limits, family, count, state.said[i]) {
                Verdict::Quiet => {}
                Verdict::Rearm(said) => state.said[i] = said,
                Verdict::Warn { threshold } => {
                    state.said[i] = Said::Warning;
                    tracing::warn!(
                        %peer, %family, count, threshold, limit = limits.limit(family),
                        "max-prefix: {count} prefixes accepted from {peer} ({family}), \
                         warning threshold {threshold} reached"
                    );
                }
                Verdict::ExceededWarningOnly { limit } => {
                    state.said[i] = Said::Excess;
                    tracing::warn!(
                        %peer, %family, count, limit,
                        "max-prefix: {count} prefixes accepted from {peer} ({family}) exceed \
                         the limit {limit}; warning_only, the session stays"
                    );
                }
                Verdict::TearDown { limit } => {
                    let restart = limits.restart_time;
                    tracing::warn!(
                        %peer, %family, count, limit, restart_time = restart,
                        "max-prefix: {count} prefixes accepted from {peer} ({family}) exceed \
                         the limit {limit}: session stopped with Cease/Maximum Number of \
                         Prefixes Reached (RFC 4486)"
                    );
                    let until = (restart > 0)
                        .then(|| Instant::now() + Duration::from_secs(u64::from(restart)));
                    state.held = Some(Held { family, count, limit, until });
                    state.teardowns += 1;
                    state.said = [Said::Nothing; 2];
                    state.token += 1;
                    let token = state.token;
                    slot.session.send(SessionCommand::Stop(cease(family, limit)));
                    if restart > 0 {
                        let events = self.events.clone();
                        let after = Duration::from_secs(u64::from(restart));
                        tokio::spawn(async move {
                            tokio::time::sleep(after).await;
                            let _ = events
                                .send(InstanceEvent::MaxPrefixRestart { peer: id, token })
                                .await;
                        });
                    }
                    return;
                }
            }
        }
    }

    /// After a change of `id`'s limits: a held session whose limits are gone
    /// starts again; an Established one is checked against the new limits.
    pub(super) fn max_prefix_changed(&mut self, id: PeerId) {
        let unlimited =
            self.peers.get(&id).is_some_and(|slot| slot.neighbor.max_prefixes.is_none());
        if unlimited {
            self.max_prefix_release(id, "the limit was removed");
        } else {
            self.max_prefix_check(id, &[Family::Ipv4Unicast, Family::Ipv6Unicast]);
        }
    }

    /// The restart timer of a teardown fired.
    pub(super) fn max_prefix_timer(&mut self, id: PeerId, token: u64) {
        let current = self.peers.get(&id).is_some_and(|slot| {
            slot.status.max_prefix.held.is_some() && slot.status.max_prefix.token == token
        });
        if current {
            self.max_prefix_release(id, "restart_time elapsed");
        }
    }

    /// Ends a max-prefix hold, starting the session if nothing else holds it
    /// (disabled, BFD Down). Returns whether it was held.
    pub(super) fn max_prefix_release(&mut self, id: PeerId, why: &str) -> bool {
        let Some(slot) = self.peers.get_mut(&id) else { return false };
        if !slot.status.max_prefix.release() {
            return false;
        }
        tracing::info!(peer = %slot.neighbor.address, "max-prefix hold ended ({why}): starting the session");
        if slot.neighbor.enabled && !slot.status.bfd.held {
            slot.session.send(SessionCommand::Start);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: MaxPrefixes = MaxPrefixes {
        limits: [Some(100), None],
        warning_percent: 80,
        warning_only: false,
        restart_time: 0,
    };

    #[test]
    fn below_the_threshold_is_quiet() {
        assert_eq!(verdict(&LIMITS, Family::Ipv4Unicast, 79, Said::Nothing), Verdict::Quiet);
        assert_eq!(verdict(&LIMITS, Family::Ipv4Unicast, 0, Said::Nothing), Verdict::Quiet);
    }

    #[test]
    fn the_threshold_warns_once_per_crossing() {
        assert_eq!(
            verdict(&LIMITS, Family::Ipv4Unicast, 80, Said::Nothing),
            Verdict::Warn { threshold: 80 }
        );
        assert_eq!(verdict(&LIMITS, Family::Ipv4Unicast, 100, Said::Warning), Verdict::Quiet);
        assert_eq!(
            verdict(&LIMITS, Family::Ipv4Unicast, 79, Said::Warning),
            Verdict::Rearm(Said::Nothing)
        );
    }

    #[test]
    fn the_limit_itself_is_allowed_one_more_tears_down() {
        assert_eq!(verdict(&LIMITS, Family::Ipv4Unicast, 100, Said::Warning), Verdict::Quiet);
        assert_eq!(
            verdict(&LIMITS, Family::Ipv4Unicast, 101, Said::Warning),
            Verdict::TearDown { limit: 100 }
        );
        assert_eq!(
            verdict(&LIMITS, Family::Ipv4Unicast, 101, Said::Nothing),
            Verdict::TearDown { limit: 100 }
        );
    }

    #[test]
    fn warning_only_reports_the_excess_once_and_never_tears_down() {
        let only = MaxPrefixes { warning_only: true, ..LIMITS };
        assert_eq!(
            verdict(&only, Family::Ipv4Unicast, 500, Said::Warning),
            Verdict::ExceededWarningOnly { limit: 100 }
        );
        assert_eq!(verdict(&only, Family::Ipv4Unicast, 501, Said::Excess), Verdict::Quiet);
        // Back under the limit, above the threshold: the next excess is reported again.
        assert_eq!(
            verdict(&only, Family::Ipv4Unicast, 90, Said::Excess),
            Verdict::Rearm(Said::Warning)
        );
    }

    #[test]
    fn a_family_without_a_limit_is_never_limited() {
        assert_eq!(verdict(&LIMITS, Family::Ipv6Unicast, u64::MAX, Said::Nothing), Verdict::Quiet);
    }

    #[test]
    fn the_cease_carries_afi_safi_and_the_limit() {
        let n = cease(Family::Ipv4Unicast, 1000);
        assert_eq!((n.code, n.subcode), (6, 1));
        assert_eq!(&n.data[..], &[0, 1, 1, 0, 0, 0x03, 0xe8]);
        let n = cease(Family::Ipv6Unicast, 0x0102_0304);
        assert_eq!(&n.data[..], &[0, 2, 1, 1, 2, 3, 4]);
    }
}
