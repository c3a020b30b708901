//! The one place that picks the IPv4 or the IPv6 table (RFC 4760 families):
//! by family, or by prefix with the prefix turned into the table's key.
//!
//! ```text
//! with_table!(&mut self, family = f, |core, table| ...)
//! with_table!(&self, family = f, |core, table| ...)
//! with_table!(&mut self, prefix = p, |core, table, key| ...)   // key: Prefix4 or Prefix6
//! with_table!(&self, prefix = p, |core, table, key| ...)
//! ```
//!
//! `self` is a [`super::Rib`]; `core` borrows its `Core` and `table` its
//! table of the family, both mutably or both shared, so the body can use
//! them at once. A macro rather than a generic method: the body is generic
//! over the key type without spelling a closure trait for each use.

macro_rules! with_table {
    (@pick $family:expr, $v4:expr, $v6:expr) => {
        match $family {
            $crate::wire::Family::Ipv4Unicast => $v4,
            $crate::wire::Family::Ipv6Unicast => $v6,
        }
    };
    (&mut $rib:ident, family = $family:expr, |$core:ident, $t:ident| $body:expr) => {
        with_table!(@pick $family,
            { let ($core, $t) = (&mut $rib.core, &mut $rib.v4); $body },
            { let ($core, $t) = (&mut $rib.core, &mut $rib.v6); $body })
    };
    (&$rib:ident, family = $family:expr, |$core:ident, $t:ident| $body:expr) => {
        with_table!(@pick $family,
            { let ($core, $t) = (&$rib.core, &$rib.v4); $body },
            { let ($core, $t) = (&$rib.core, &$rib.v6); $body })
    };
    (&mut $rib:ident, prefix = $prefix:expr, |$core:ident, $t:ident, $key:ident| $body:expr) => {
        match $prefix {
            ::ipnet::IpNet::V4(net) => {
                let ($core, $t, $key) =
                    (&mut $rib.core, &mut $rib.v4, $crate::rib::table::Prefix4::of(&net));
                $body
            }
            ::ipnet::IpNet::V6(net) => {
                let ($core, $t, $key) =
                    (&mut $rib.core, &mut $rib.v6, $crate::rib::table::Prefix6::of(&net));
                $body
            }
        }
    };
    (&$rib:ident, prefix = $prefix:expr, |$core:ident, $t:ident, $key:ident| $body:expr) => {
        match $prefix {
            ::ipnet::IpNet::V4(net) => {
                let ($core, $t, $key) =
                    (&$rib.core, &$rib.v4, $crate::rib::table::Prefix4::of(&net));
                $body
            }
            ::ipnet::IpNet::V6(net) => {
                let ($core, $t, $key) =
                    (&$rib.core, &$rib.v6, $crate::rib::table::Prefix6::of(&net));
                $body
            }
        }
    };
}
