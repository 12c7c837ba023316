//! Compiles the `.proto` contract with `protox` (pure Rust), so building needs no system `protoc`.

/// Messages whose derived `Debug` would print a secret.
const SECRET_BEARING: [&str; 3] = [
    ".ingressoja.ticketing.v1.RegisterRequest",
    ".ingressoja.ticketing.v1.CredentialsReply",
    ".ingressoja.ticketing.v1.EnrolTotpRequest",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/raft.proto",
        "proto/ticketing.proto",
        "proto/admin.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    // Messages carrying a password hash or a TOTP secret get a hand-written,
    // redacting `Debug` (in `src/secret_debug.rs`), so logging one leaks nothing.
    tonic_prost_build::configure()
        .skip_debug(SECRET_BEARING)
        .compile_fds(descriptors)?;
    Ok(())
}
