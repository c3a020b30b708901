//! Validation of a neighbor's identity: `address`, or `interface` for BGP
//! unnumbered (FRR's `neighbor IFNAME interface`), exactly one of the two.
//! A submodule of `validate`, sharing its `Validator`.

use super::*;
use crate::config::model::Interface;

/// What names a neighbor.
pub(super) enum Identity {
    /// `None` when the address was given but is invalid (already reported).
    Address(Option<IpAddr>),
    Interface(Interface),
}

/// Addresses and interface names seen so far, for duplicates.
#[derive(Default)]
pub(super) struct Seen {
    addresses: HashMap<IpAddr, Range<usize>>,
    interfaces: HashMap<String, Range<usize>>,
}

/// An interface name the kernel could hold, the rule `[[layer2]]` uses.
fn interface_name(name: &str) -> Result<(), Problem> {
    if crate::layer2::announcer::valid_interface_name(name) {
        Ok(())
    } else {
        Err(Problem::InterfaceName)
    }
}

impl Validator<'_> {
    /// `address` or `interface`, exactly one; `None` when neither or both
    /// (reported).
    pub(super) fn neighbor_identity(
        &mut self,
        scope: &Scope,
        n: &RawNeighbor,
        seen: &mut Seen,
    ) -> Option<Identity> {
        match (&n.address, &n.interface) {
            (Some(_), Some(interface)) => {
                let value = interface.get_ref().render();
                self.invalid(
                    interface.span(),
                    scope.key("interface"),
                    value,
                    Problem::AddressAndInterface,
                );
                None
            }
            (None, Some(v)) => {
                self.check(scope, "interface", v, |s| interface_name(s))?;
                let name = v.get_ref().clone();
                let unique = self.unique(
                    &mut seen.interfaces,
                    name.clone(),
                    v.span(),
                    scope,
                    "interface",
                    v.get_ref(),
                );
                unique.then_some(Identity::Interface(Interface { name, index: 0 }))
            }
            _ => {
                let address = self.required(scope, "address", &n.address).and_then(|v| {
                    let address = self.check(scope, "address", v, |s| parse_unicast_address(s))?;
                    let unique = self.unique(
                        &mut seen.addresses,
                        address,
                        v.span(),
                        scope,
                        "address",
                        v.get_ref(),
                    );
                    unique.then_some(address)
                });
                Some(Identity::Address(address))
            }
        }
    }

    /// Keys that name addresses the interface neighbor's are discovered in
    /// place of: `local_address` (the interface's link-local address is the
    /// source) and `password` (a TCP MD5 key is per peer address).
    pub(super) fn refuse_with_interface(
        &mut self,
        scope: &Scope,
        interface: Option<&Interface>,
        n: &RawNeighbor,
    ) {
        let Some(interface) = interface else { return };
        let problem = || Problem::NotWithInterface { interface: interface.name.clone() };
        if let Some(v) = &n.local_address {
            self.invalid(v.span(), scope.key("local_address"), v.get_ref().render(), problem());
        }
        if let Some(v) = &n.password {
            let value = format!("<{} bytes>", v.get_ref().len());
            self.invalid(v.span(), scope.key("password"), value, problem());
        }
    }
}
