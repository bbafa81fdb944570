//! Compiles every contract with protox (no protoc) into Rust and into one
//! descriptor set, with source info and custom options kept, so that Envoy can
//! transcode REST from the `google.api.http` annotations and reflection can
//! describe every service.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "cinema/common/v1/common.proto",
    "cinema/screening/v1/screening.proto",
    "cinema/seats/v1/seats.proto",
    "cinema/payment/v1/payment.proto",
    "cinema/reservation/v1/reservation.proto",
    "cinema/booking/v1/booking.proto",
    "cinema/booking/v1/operator.proto",
    "cinema/notification/v1/notification.proto",
    "cinema/loyalty/v1/loyalty.proto",
    "cinema/events/v1/events.proto",
    // Not generated into Rust (tonic-types has them); kept in the descriptor set
    // so that Envoy can render error details as JSON.
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // At run time, not `env!`: clones sharing one target dir share this script's binary
    // (cargo fingerprints workspace members by relative path), and a path compiled in
    // would read the other clone's contracts.
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    // Relative to this package: clones sharing one target dir (CI runs a fresh
    // clone beside the working copy) then each watch their own files. Absolute
    // paths would make a build in one clone fresh for the other's edits.
    println!("cargo:rerun-if-changed=cinema");
    println!("cargo:rerun-if-changed=google");
    println!("cargo:rerun-if-changed=build.rs");

    let mut compiler = protox::Compiler::new([&root])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(PROTOS)?;
    // Encode from the compiler itself: a prost_types::FileDescriptorSet would
    // drop the custom options (google.api.http) and Envoy would transcode nothing.
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("cinema_descriptor.bin"), compiler.encode_file_descriptor_set())?;
    let fds = compiler.file_descriptor_set();

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .extern_path(".google.rpc", "::tonic_types::pb")
        .compile_fds(fds)?;
    Ok(())
}
