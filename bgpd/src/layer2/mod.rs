//! Layer2 mode: answer ARP (RFC 826) and IPv6 Neighbor Discovery (RFC 4861
//! §7.2) for addresses this node owns, without the kernel knowing them.
//!
//! ```text
//!  API (Layer2Service) ──┐
//!  config / reload ──────┼─ Command ─► owner task (Announcer, sans-IO)
//!  link watcher thread ──┘                 ▲ Received      │ LinkCommand (+ eventfd wake)
//!                        one std thread per interface ─────┘  AF_PACKET socket, BPF filter
//! ```
//!
//! - [`arp`], [`ndp`]: frames built and parsed, golden-tested both ways.
//! - [`announcer`]: which address on which interface, answers, gratuitous
//!   schedule (RFC 5227 §3, RFC 4861 §7.2.6), counters.
//! - [`link`]: interface state from `/sys/class/net`.
//! - [`socket`]: the raw socket of one interface, on its own thread.
//! - [`task`]: the owner task and its [`task::Handle`].
//!
//! It never adds an address to an interface and never touches the kernel's
//! neighbour tables: the kernel does not know the addresses at all, so it
//! neither answers for them nor fights over them.

pub mod announcer;
pub mod arp;
pub mod link;
pub mod ndp;
pub mod socket;
pub mod task;
