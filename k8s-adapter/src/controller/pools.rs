//! The `status` of each `IPAddressPool` (MetalLB's fields): addresses in use and still free
//! per family, from the allocator ([`crate::allocator::Allocator::usage`]), written by the
//! leader after each batch when they changed. Pools from a legacy ConfigMap have no object
//! to write to; they are skipped. A failed write is tried again after the next batch.

use std::collections::BTreeMap;

use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

use crate::allocator::PoolUsage;
use crate::config::Family;
use crate::config::crd::{IpAddressPool, IpAddressPoolStatus};

/// The status shown for a pool's usage; counts beyond `i64` (large IPv6 pools) saturate.
pub fn pool_status(usage: &PoolUsage) -> IpAddressPoolStatus {
    let count = |n: u128| i64::try_from(n).unwrap_or(i64::MAX);
    IpAddressPoolStatus {
        assigned_ipv4: count(usage.assigned[Family::V4.index()]),
        assigned_ipv6: count(usage.assigned[Family::V6.index()]),
        available_ipv4: count(usage.available(Family::V4)),
        available_ipv6: count(usage.available(Family::V6)),
    }
}

/// Writes the pools' status, remembering what it wrote.
pub struct PoolStatusWriter {
    api: Api<IpAddressPool>,
    written: BTreeMap<String, IpAddressPoolStatus>,
}

impl PoolStatusWriter {
    /// The pools in `namespace`.
    pub fn new(client: Client, namespace: &str) -> Self {
        Self { api: Api::namespaced(client, namespace), written: BTreeMap::new() }
    }

    /// Writes the status of every pool whose usage changed since the last write.
    pub async fn publish(&mut self, usage: &BTreeMap<String, PoolUsage>) {
        self.written.retain(|name, _| usage.contains_key(name));
        for (name, usage) in usage {
            let status = pool_status(usage);
            if self.written.get(name) == Some(&status) {
                continue;
            }
            let patch = serde_json::json!({ "status": status });
            match self.api.patch_status(name, &PatchParams::default(), &Patch::Merge(patch)).await {
                Ok(_) => {}
                // A pool of the legacy ConfigMap: no object, nothing to show it on.
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => {
                    tracing::warn!(pool = %name, error = %e, "writing the pool's status failed");
                    continue;
                }
            }
            self.written.insert(name.clone(), status);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_map_to_metallb_fields_and_saturate() {
        let usage = PoolUsage { assigned: [1, 2], total: [51, u128::MAX] };
        let status = pool_status(&usage);
        assert_eq!((status.assigned_ipv4, status.available_ipv4), (1, 50));
        assert_eq!((status.assigned_ipv6, status.available_ipv6), (2, i64::MAX));
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["assignedIPv4"], 1);
        assert_eq!(json["availableIPv6"], i64::MAX);
    }
}
