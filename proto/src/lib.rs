//! ironlb's gRPC contract, package `ironlb.bgpd.v1`, compiled for both sides.
//!
//! The `.proto` under `ironlb/bgpd/v1/` is the source of truth and documents
//! every message and field; this crate only compiles it (with protox, so no
//! `protoc` is needed) into prost messages plus the tonic server
//! ([`bgpd::v1::bgp_service_server`]) and client
//! ([`bgpd::v1::bgp_service_client`]).

/// Package `ironlb.bgpd`.
pub mod bgpd {
    /// Package `ironlb.bgpd.v1`: the generated messages, server and client.
    pub mod v1 {
        #![allow(clippy::all, clippy::unwrap_used, missing_docs)]
        tonic::include_proto!("ironlb.bgpd.v1");
    }
}

/// The encoded `google.protobuf.FileDescriptorSet` of every `.proto` of this
/// crate, for server reflection (`tonic_reflection`) and for clients that
/// decode messages dynamically.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/ironlb_descriptor_set.bin"));

/// Fully qualified name of the BGP service, as health checks and reflection
/// name it.
pub const BGP_SERVICE_NAME: &str = "ironlb.bgpd.v1.BgpService";

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::bgpd::v1;
    use super::*;

    #[test]
    fn descriptor_set_decodes_and_names_the_service() {
        let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET)
            .expect("descriptor set decodes");
        let file = set
            .file
            .iter()
            .find(|f| f.package() == "ironlb.bgpd.v1")
            .expect("our package is in the set");
        let service = file.service.iter().find(|s| s.name() == "BgpService").expect("service");
        let methods: Vec<&str> = service.method.iter().map(|m| m.name()).collect();
        for expected in [
            "GetInfo",
            "ListPeers",
            "GetPeer",
            "AddPeer",
            "UpdatePeer",
            "DeletePeer",
            "EnablePeer",
            "DisablePeer",
            "ResetPeer",
            "Session",
            "SetPaths",
            "AddPaths",
            "AddPathsStream",
            "DeletePaths",
            "DeletePathsStream",
            "ListPaths",
            "Watch",
        ] {
            assert!(methods.contains(&expected), "missing rpc {expected}");
        }
        // Source info is kept, so reflection clients see the documentation.
        assert!(file.source_code_info.as_ref().is_some_and(|info| !info.location.is_empty()));
    }

    #[test]
    fn reflection_service_builds_from_the_descriptor_set() {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .build_v1()
            .expect("reflection v1 builds");
    }

    #[test]
    fn generated_server_and_client_types_exist() {
        // The server trait and wrapper, and the client over a lazy channel:
        // naming them is the test; nothing connects.
        fn assert_server<T: v1::bgp_service_server::BgpService>() {
            let _ = v1::bgp_service_server::BgpServiceServer::<T>::new;
        }
        assert_server::<Unimplemented>();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let channel =
                tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
            let _client = v1::bgp_service_client::BgpServiceClient::new(channel);
        });
        assert_eq!(
            <v1::bgp_service_server::BgpServiceServer<Unimplemented> as tonic::server::NamedService>::NAME,
            BGP_SERVICE_NAME
        );
    }

    /// A server that implements nothing: the generated default stubs answer
    /// UNIMPLEMENTED, so the daemon can grow its handlers one at a time.
    struct Unimplemented;

    impl v1::bgp_service_server::BgpService for Unimplemented {}

    #[test]
    fn default_stub_answers_unimplemented() {
        use v1::bgp_service_server::BgpService;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let status = runtime
            .block_on(Unimplemented.get_info(tonic::Request::new(v1::GetInfoRequest {})))
            .expect_err("stub answers an error");
        assert_eq!(status.code(), tonic::Code::Unimplemented);
    }
}
