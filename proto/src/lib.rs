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

/// Fully qualified name of the layer2 (ARP/NDP) service.
pub const LAYER2_SERVICE_NAME: &str = "ironlb.bgpd.v1.Layer2Service";

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

    /// The contract promises documentation for every message, field, enum
    /// value, service and method; this keeps the promise.
    #[test]
    fn every_element_of_the_proto_is_documented() {
        let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("decodes");
        let mut missing = Vec::new();
        let files: Vec<_> = set.file.iter().filter(|f| f.package() == "ironlb.bgpd.v1").collect();
        assert_eq!(files.len(), 2, "bgpd.proto and layer2.proto");
        for file in files {
            let info = file.source_code_info.as_ref().expect("source info");
            let documented = |path: &[i32]| {
                info.location.iter().any(|l| {
                    l.path == path
                        && (l.leading_comments.as_deref().is_some_and(|c| !c.trim().is_empty())
                            || l.trailing_comments.as_deref().is_some_and(|c| !c.trim().is_empty()))
                })
            };
            // Field numbers of FileDescriptorProto / DescriptorProto / ... in
            // descriptor.proto: message_type 4, enum_type 5, service 6; field 2,
            // nested_type 3, enum value 2, method 2.
            for (m, message) in file.message_type.iter().enumerate() {
                let m = m as i32;
                if !documented(&[4, m]) {
                    missing.push(message.name().to_string());
                }
                for (f, field) in message.field.iter().enumerate() {
                    if !documented(&[4, m, 2, f as i32]) {
                        missing.push(format!("{}.{}", message.name(), field.name()));
                    }
                }
            }
            for (e, enumeration) in file.enum_type.iter().enumerate() {
                let e = e as i32;
                if !documented(&[5, e]) {
                    missing.push(enumeration.name().to_string());
                }
                for (v, value) in enumeration.value.iter().enumerate() {
                    if !documented(&[5, e, 2, v as i32]) {
                        missing.push(value.name().to_string());
                    }
                }
            }
            for (s, service) in file.service.iter().enumerate() {
                let s = s as i32;
                if !documented(&[6, s]) {
                    missing.push(service.name().to_string());
                }
                for (r, method) in service.method.iter().enumerate() {
                    if !documented(&[6, s, 2, r as i32]) {
                        missing.push(format!("{}.{}", service.name(), method.name()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "undocumented: {missing:?}");
    }

    #[test]
    fn layer2_service_is_in_the_descriptor_set() {
        let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("decodes");
        let file =
            set.file.iter().find(|f| f.name() == "ironlb/bgpd/v1/layer2.proto").expect("layer2");
        assert_eq!(file.package(), "ironlb.bgpd.v1");
        let service = file.service.iter().find(|s| s.name() == "Layer2Service").expect("service");
        let methods: Vec<&str> = service.method.iter().map(|m| m.name()).collect();
        assert_eq!(methods, ["SetAnnouncements", "ListAnnouncements"]);
        assert_eq!(
            <v1::layer2_service_server::Layer2ServiceServer<Unimplemented> as tonic::server::NamedService>::NAME,
            LAYER2_SERVICE_NAME
        );
    }

    impl v1::layer2_service_server::Layer2Service for Unimplemented {}

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
