//! ROUTE-REFRESH message (RFC 2918 §3) with the message subtypes of enhanced
//! route refresh (RFC 7313 §3.2).

use super::family::AfiSafi;

/// A ROUTE-REFRESH message.
///
/// ```text
///  0       7      15      23      31
/// +-------+-------+-------+-------+
/// |      AFI      | Subtype | SAFI |
/// +-------+-------+-------+-------+
/// ```
///
/// Subtype was "Reserved" in RFC 2918; RFC 7313 gives it meaning.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RouteRefresh {
    pub afi_safi: AfiSafi,
    pub subtype: RefreshSubtype,
}

/// The message subtype (RFC 7313 §3.2).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RefreshSubtype {
    /// 0: a normal route refresh request.
    Request,
    /// 1: Beginning of Route Refresh.
    BeginningOfRefresh,
    /// 2: End of Route Refresh.
    EndOfRefresh,
    /// 255 and unassigned values: ignored on receipt (RFC 7313 §5).
    Other(u8),
}

impl RefreshSubtype {
    pub fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Request,
            1 => Self::BeginningOfRefresh,
            2 => Self::EndOfRefresh,
            other => Self::Other(other),
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            Self::Request => 0,
            Self::BeginningOfRefresh => 1,
            Self::EndOfRefresh => 2,
            Self::Other(value) => value,
        }
    }
}
