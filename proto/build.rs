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
    write_rpc_list(&descriptors)?;
    // Messages carrying a password hash or a TOTP secret get a hand-written,
    // redacting `Debug` (in `src/secret_debug.rs`), so logging one leaks nothing.
    tonic_prost_build::configure()
        .skip_debug(SECRET_BEARING)
        .compile_fds(descriptors)?;
    Ok(())
}

/// Writes `rpcs.rs`: every RPC of the contract, so the node's access rules
/// and the attack tests can be checked against the whole list, not a copy.
fn write_rpc_list(
    descriptors: &prost_types::FileDescriptorSet,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut out = String::from("/// Every RPC of the contract.\npub const RPCS: &[Rpc] = &[\n");
    for file in &descriptors.file {
        for service in &file.service {
            for method in &service.method {
                out.push_str(&format!(
                    "    Rpc {{ path: \"/{}.{}/{}\", server_streaming: {} }},\n",
                    file.package(),
                    service.name(),
                    method.name(),
                    method.server_streaming()
                ));
            }
        }
    }
    out.push_str("];\n");
    let path = std::path::Path::new(&std::env::var("OUT_DIR")?).join("rpcs.rs");
    std::fs::write(path, out)?;
    Ok(())
}
