//! Compiles `ironlb/bgpd/v1/bgpd.proto` and `layer2.proto` with protox (pure Rust, so a clean build
//! needs no `protoc` on the machine), generates the tonic server and client with
//! tonic-prost-build, and writes the encoded `FileDescriptorSet` that server
//! reflection serves.

use std::path::PathBuf;

use prost::Message;

const PROTOS: [&str; 2] = ["ironlb/bgpd/v1/bgpd.proto", "ironlb/bgpd/v1/layer2.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR unset")?);
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR unset")?);
    println!("cargo:rerun-if-changed={}", manifest_dir.join("ironlb").display());

    let descriptors = protox::compile(PROTOS, [&manifest_dir])?;
    std::fs::write(out_dir.join("ironlb_descriptor_set.bin"), descriptors.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Every RPC answers UNIMPLEMENTED until the daemon implements it, so the
        // service can grow one handler at a time.
        .generate_default_stubs(true)
        .compile_fds(descriptors)?;
    Ok(())
}
