//! The path attribute table: one row per attribute `bgpd` interprets, giving
//! its type code (IANA "BGP Path Attributes"), its flags category (RFC 4271
//! §5), what RFC 7606 §7 says to do with a malformed value, with wrong flags
//! (RFC 7606 §3 c) and with a second copy (RFC 7606 §3 g), and where the
//! encoder writes it (RFC 4271 §5: ascending type code).
//!
//! The decoder (`wire/decode/attributes.rs`) checks flags and picks the error
//! action from the row; the encoder (`wire/encode/attributes.rs`) takes the
//! flags byte and the order from it. The value codecs stay next to them, one
//! `match` arm per code. Adding an attribute: one row here, a field in
//! [`super::PathAttributes`], and its value codec on both sides.
//!
//! Lookups are a 256-entry array indexed by the type code ([`spec`]), so the
//! UPDATE hot path pays one load per attribute and allocates nothing.
//!
//! Unknown attributes have no row: an unrecognised well-known one resets the
//! session, an optional transitive one is kept and passed on with the Partial
//! bit set ([`passed_on_flags`], RFC 4271 §5), an optional non-transitive one
//! is dropped.

use crate::wire::error::ErrorAction;
use crate::wire::error::ErrorAction::{
    AttributeDiscard as Discard, SessionReset as Reset, TreatAsWithdraw as Withdraw,
};

/// Attribute flags (RFC 4271 §4.3).
pub mod flags {
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const PARTIAL: u8 = 0x20;
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

/// What the Optional and Transitive bits of an attribute must be (RFC 4271 §5).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Category {
    /// Recognised by every implementation and present in every UPDATE that
    /// carries NLRI (RFC 4271 §5, §6.3: missing ones are an error).
    WellKnownMandatory,
    /// Recognised by every implementation, not always present.
    WellKnownDiscretionary,
    /// Passed on by a speaker that does not recognise it, Partial bit set.
    OptionalTransitive,
    /// Dropped by a speaker that does not recognise it.
    OptionalNonTransitive,
}

impl Category {
    /// The Optional and Transitive bits an attribute of this category is sent with.
    pub const fn flags(self) -> u8 {
        match self {
            Self::WellKnownMandatory | Self::WellKnownDiscretionary => flags::TRANSITIVE,
            Self::OptionalTransitive => flags::OPTIONAL | flags::TRANSITIVE,
            Self::OptionalNonTransitive => flags::OPTIONAL,
        }
    }

    /// Whether received `attribute_flags` agree with the category (RFC 4271
    /// §6.3, RFC 7606 §3 c). Partial may only be set on optional transitive
    /// attributes; Extended Length is free.
    pub const fn accepts(self, attribute_flags: u8) -> bool {
        let bits = attribute_flags & (flags::OPTIONAL | flags::TRANSITIVE | flags::PARTIAL);
        match self {
            Self::OptionalTransitive => bits & !flags::PARTIAL == self.flags(),
            _ => bits == self.flags(),
        }
    }
}

/// Where the encoder writes an attribute.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Encode {
    /// With the other attributes, in table (ascending code) order.
    InOrder,
    /// By the UPDATE packer, around the routes it carries (MP_REACH_NLRI and
    /// MP_UNREACH_NLRI, RFC 4760 §3, §4), ahead of the others.
    WithRoutes,
}

/// One row of the table.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct AttributeSpec {
    pub code: u8,
    /// The IANA name.
    pub name: &'static str,
    pub category: Category,
    /// Action on a malformed value (RFC 7606 §7, per attribute).
    pub malformed: ErrorAction,
    /// Action on flags that conflict with the category (RFC 7606 §3 c).
    pub bad_flags: ErrorAction,
    /// Action on a second copy in one UPDATE (RFC 7606 §3 g): attribute
    /// discard, or session reset as a malformed attribute list.
    pub duplicate: ErrorAction,
    pub encode: Encode,
}

/// Builds [`type_code`] and [`ATTRIBUTES`] from one list, so a code is written once.
macro_rules! attribute_table {
    ($(
        $(#[$doc:meta])*
        $code:literal $ident:ident $category:ident $malformed:ident $bad_flags:ident
            $duplicate:ident $encode:ident;
    )*) => {
        /// Attribute type codes (IANA "BGP Path Attributes").
        pub mod type_code {
            $( $(#[$doc])* pub const $ident: u8 = $code; )*
        }

        /// Every attribute `bgpd` interprets, in encode order (ascending code).
        pub const ATTRIBUTES: [AttributeSpec; [$($code),*].len()] = [$(
            AttributeSpec {
                code: $code,
                name: stringify!($ident),
                category: Category::$category,
                malformed: $malformed,
                bad_flags: $bad_flags,
                duplicate: $duplicate,
                encode: Encode::$encode,
            },
        )*];
    };
}

attribute_table! {
    // code name              category                malformed bad flags duplicate encode
    /// RFC 4271 §5.1.1; RFC 7606 §7.1.
    1  ORIGIN                 WellKnownMandatory      Withdraw  Withdraw  Discard   InOrder;
    /// RFC 4271 §5.1.2; RFC 7606 §7.2, RFC 7607 §2 (AS 0); from an external
    /// neighbor also the first-AS and confederation checks (`decode/update.rs`).
    2  AS_PATH                WellKnownMandatory      Withdraw  Withdraw  Discard   InOrder;
    /// RFC 4271 §5.1.3; RFC 7606 §7.3.
    3  NEXT_HOP               WellKnownMandatory      Withdraw  Withdraw  Discard   InOrder;
    /// RFC 4271 §5.1.4; RFC 7606 §7.4.
    4  MULTI_EXIT_DISC        OptionalNonTransitive   Withdraw  Withdraw  Discard   InOrder;
    /// RFC 4271 §5.1.5 (sent on iBGP only; one missing from an internal
    /// neighbor is taken as 100, as FRR and BIRD do, not withdrawn); RFC 7606
    /// §7.5 (from an external neighbor: discarded, well-formed or not).
    5  LOCAL_PREF             WellKnownDiscretionary  Withdraw  Withdraw  Discard   InOrder;
    /// RFC 4271 §5.1.6; RFC 7606 §7.6.
    6  ATOMIC_AGGREGATE       WellKnownDiscretionary  Discard   Withdraw  Discard   InOrder;
    /// RFC 4271 §5.1.7; RFC 7606 §7.7, RFC 7607 §2 (AS 0).
    7  AGGREGATOR             OptionalTransitive      Discard   Withdraw  Discard   InOrder;
    /// RFC 1997; RFC 7606 §7.8.
    8  COMMUNITIES            OptionalTransitive      Withdraw  Withdraw  Discard   InOrder;
    /// RFC 4456 §8; RFC 7606 §7.9 (from an external neighbor: discarded).
    9  ORIGINATOR_ID          OptionalNonTransitive   Withdraw  Withdraw  Discard   InOrder;
    /// RFC 4456 §8; RFC 7606 §7.10 (from an external neighbor: discarded).
    10 CLUSTER_LIST           OptionalNonTransitive   Withdraw  Withdraw  Discard   InOrder;
    /// RFC 4760 §3; RFC 7606 §7.11, §3 g (a second copy is a malformed list).
    14 MP_REACH_NLRI          OptionalNonTransitive   Reset     Reset     Reset     WithRoutes;
    /// RFC 4760 §4; RFC 7606 §7.12, §3 g.
    15 MP_UNREACH_NLRI        OptionalNonTransitive   Reset     Reset     Reset     WithRoutes;
    /// RFC 4360; RFC 7606 §7.14.
    16 EXTENDED_COMMUNITIES   OptionalTransitive      Withdraw  Withdraw  Discard   InOrder;
    /// RFC 6793 §3, §6 (errors: attribute discard).
    17 AS4_PATH               OptionalTransitive      Discard   Discard   Discard   InOrder;
    /// RFC 6793 §3, §6.
    18 AS4_AGGREGATOR         OptionalTransitive      Discard   Discard   Discard   InOrder;
    /// RFC 8092 §3, §6.
    32 LARGE_COMMUNITY        OptionalTransitive      Withdraw  Withdraw  Discard   InOrder;
}

/// Row index + 1 by type code; 0 for a code without a row.
const BY_CODE: [u8; 256] = {
    let mut by_code = [0u8; 256];
    let mut i = 0;
    while i < ATTRIBUTES.len() {
        // Codes ascend: the encoder slots unknown attributes in between by code.
        assert!(i == 0 || ATTRIBUTES[i - 1].code < ATTRIBUTES[i].code);
        by_code[ATTRIBUTES[i].code as usize] = (i + 1) as u8;
        i += 1;
    }
    by_code
};

/// The row of `code`, if `bgpd` interprets that attribute.
#[inline]
pub fn spec(code: u8) -> Option<&'static AttributeSpec> {
    match BY_CODE[usize::from(code)] {
        0 => None,
        row => ATTRIBUTES.get(usize::from(row) - 1),
    }
}

/// The Optional and Transitive bits `code` is sent with (0 for a code without
/// a row); a `const fn` so the MP attribute writers take them at compile time.
pub const fn category_flags(code: u8) -> u8 {
    match BY_CODE[code as usize] {
        0 => 0,
        row => ATTRIBUTES[row as usize - 1].category.flags(),
    }
}

/// How many rows are written by the attribute encoder.
const IN_ORDER_COUNT: usize = {
    let (mut count, mut i) = (0, 0);
    while i < ATTRIBUTES.len() {
        if matches!(ATTRIBUTES[i].encode, Encode::InOrder) {
            count += 1;
        }
        i += 1;
    }
    count
};

/// The rows the attribute encoder writes, in order.
pub const ENCODED_IN_ORDER: [AttributeSpec; IN_ORDER_COUNT] = {
    let mut rows = [ATTRIBUTES[0]; IN_ORDER_COUNT];
    let (mut n, mut i) = (0, 0);
    while i < ATTRIBUTES.len() {
        if matches!(ATTRIBUTES[i].encode, Encode::InOrder) {
            rows[n] = ATTRIBUTES[i];
            n += 1;
        }
        i += 1;
    }
    rows
};

/// How many well-known mandatory attributes there are.
const MANDATORY_COUNT: usize = {
    let (mut count, mut i) = (0, 0);
    while i < ATTRIBUTES.len() {
        if matches!(ATTRIBUTES[i].category, Category::WellKnownMandatory) {
            count += 1;
        }
        i += 1;
    }
    count
};

/// The codes of the well-known mandatory attributes (RFC 4271 §5, §6.3), ascending.
pub const WELL_KNOWN_MANDATORY: [u8; MANDATORY_COUNT] = {
    let mut codes = [0u8; MANDATORY_COUNT];
    let (mut n, mut i) = (0, 0);
    while i < ATTRIBUTES.len() {
        if matches!(ATTRIBUTES[i].category, Category::WellKnownMandatory) {
            codes[n] = ATTRIBUTES[i].code;
            n += 1;
        }
        i += 1;
    }
    codes
};

/// The flags an unrecognised optional transitive attribute is passed on with:
/// as received, plus Partial (RFC 4271 §5: "the Partial bit ... is set to 1"
/// by a speaker that passes on an attribute it does not recognise). Extended
/// Length is left to the encoder, which recomputes it from the length. The
/// one place this rule is written: the export rewrite and the encoder call it.
pub const fn passed_on_flags(received: u8) -> u8 {
    (received | flags::PARTIAL | flags::OPTIONAL) & !flags::EXTENDED_LENGTH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_code() {
        for row in &ATTRIBUTES {
            assert_eq!(spec(row.code), Some(row));
        }
        assert_eq!(spec(0), None);
        assert_eq!(spec(99), None);
        assert_eq!(spec(type_code::LARGE_COMMUNITY).map(|s| s.name), Some("LARGE_COMMUNITY"));
        assert_eq!(
            WELL_KNOWN_MANDATORY,
            [type_code::ORIGIN, type_code::AS_PATH, type_code::NEXT_HOP]
        );
        assert!(ENCODED_IN_ORDER.iter().all(|s| s.encode == Encode::InOrder));
        assert_eq!(ENCODED_IN_ORDER.len(), ATTRIBUTES.len() - 2);
    }

    #[test]
    fn categories_check_flags() {
        use flags::{EXTENDED_LENGTH as E, OPTIONAL as O, PARTIAL as P, TRANSITIVE as T};
        assert!(Category::WellKnownMandatory.accepts(T | E));
        assert!(!Category::WellKnownMandatory.accepts(T | P));
        assert!(Category::OptionalTransitive.accepts(O | T | P));
        assert!(!Category::OptionalTransitive.accepts(O));
        assert!(Category::OptionalNonTransitive.accepts(O | E));
        assert!(!Category::OptionalNonTransitive.accepts(O | P));
        assert_eq!(passed_on_flags(O | T | E), O | T | P);
    }
}
