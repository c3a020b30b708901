//! gRPC to a `bgpd` inside a network namespace.
//!
//! The API listens on the namespace's loopback, which the test process (in
//! the root namespace) cannot reach. So [`NsRuntime`] builds a tokio runtime
//! on a thread that first joined the namespace (setns(2) on
//! `/run/netns/NAME`): its worker threads inherit the namespace, and every
//! socket a task opens there lives in it. Futures are *spawned* onto it (not
//! `block_on`'d, which would poll them on the caller's thread, in the root
//! namespace) and the caller waits for their result.
//!
//! The capture helpers read UPDATEs (RFC 4271 §4.3) with their IPv4 withdrawn
//! routes and NLRI and MP_(UN)REACH_NLRI (RFC 4760), in extended messages
//! (RFC 8654) when the session negotiated them, through bgpd's own decoder.

use std::future::Future;

use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use tonic::transport::Channel;

use crate::netns::Namespace;
use crate::{HarnessError, Result};

/// A tokio runtime whose threads live in one network namespace.
pub struct NsRuntime {
    runtime: tokio::runtime::Runtime,
}

fn io_error(command: &str, source: std::io::Error) -> HarnessError {
    HarnessError::Io { command: command.to_owned(), source }
}

impl NsRuntime {
    pub fn new(namespace: &Namespace) -> Result<Self> {
        let name = namespace.name().to_owned();
        let builder = std::thread::spawn(move || -> Result<tokio::runtime::Runtime> {
            crate::netns::enter(&name)?;
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| io_error("tokio runtime", e))
        });
        let runtime = builder.join().map_err(|_| {
            io_error("namespace thread", std::io::Error::other("the thread panicked"))
        })??;
        Ok(Self { runtime })
    }

    /// Runs `future` on the namespace's threads and waits for its output.
    pub fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.runtime.block_on(self.runtime.spawn(future)) {
            Ok(output) => output,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }

    /// A client of the API at `address` ("127.0.0.1:50051"), retried until
    /// the daemon answers or `deadline` passes.
    pub fn client(
        &self,
        address: &str,
        deadline: std::time::Duration,
    ) -> Result<BgpServiceClient<Channel>> {
        let url = format!("http://{address}");
        let what = format!("bgpd's API at {address}");
        self.run(async move {
            let start = std::time::Instant::now();
            loop {
                if let Ok(client) = BgpServiceClient::connect(url.clone()).await {
                    return Ok(client);
                }
                if start.elapsed() >= deadline {
                    return Err(HarnessError::Timeout {
                        what,
                        waited: start.elapsed(),
                        last: String::new(),
                    });
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
    }
}

/// Runs `call` with a client of the API at `address` inside `namespace` (on a
/// runtime of its own, dropped after), the client retried until the daemon
/// answers or `deadline` passes.
pub fn with_client<T, F, Fut>(
    namespace: &Namespace,
    address: &str,
    deadline: std::time::Duration,
    call: F,
) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(BgpServiceClient<Channel>) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let runtime = NsRuntime::new(namespace)?;
    let client = runtime.client(address, deadline)?;
    Ok(runtime.run(call(client)))
}

/// Prefixes withdrawn by the UPDATEs among `messages` (IPv4 withdrawn routes
/// and MP_UNREACH_NLRI), decoded with bgpd's own wire decoder.
pub fn withdrawn_prefixes(messages: &[crate::tcpdump::CapturedMessage]) -> Vec<ipnet::IpNet> {
    let options = ::bgpd::wire::CodecOptions {
        four_octet_as: true,
        extended_message: true,
        ..Default::default()
    };
    let mut withdrawn = Vec::new();
    for message in messages {
        if message.kind() != crate::tcpdump::UPDATE {
            continue;
        }
        if let Ok(::bgpd::wire::Decoded::Update(decoded)) =
            ::bgpd::wire::decode_message(&message.bytes, &options)
        {
            let update = &decoded.update;
            withdrawn.extend(update.withdrawn.iter().map(|n| n.prefix));
            if let Some(unreach) = &update.mp_unreach {
                withdrawn.extend(unreach.withdrawn.iter().map(|n| n.prefix));
            }
        }
    }
    withdrawn
}

/// Prefixes announced by the UPDATEs among `messages`.
pub fn announced_prefixes(messages: &[crate::tcpdump::CapturedMessage]) -> Vec<ipnet::IpNet> {
    let options = ::bgpd::wire::CodecOptions {
        four_octet_as: true,
        extended_message: true,
        ..Default::default()
    };
    let mut announced = Vec::new();
    for message in messages {
        if message.kind() != crate::tcpdump::UPDATE {
            continue;
        }
        if let Ok(::bgpd::wire::Decoded::Update(decoded)) =
            ::bgpd::wire::decode_message(&message.bytes, &options)
        {
            let update = &decoded.update;
            announced.extend(update.nlri.iter().map(|n| n.prefix));
            if let Some(reach) = &update.mp_reach {
                announced.extend(reach.nlri.iter().map(|n| n.prefix));
            }
        }
    }
    announced
}
