//! `ingressoja pki init`, and the certificate the CLI itself calls with.

use std::process::ExitCode;

use ingressoja_pki::{Bundle, Identity, PkiError, Role, TlsMaterial};

use crate::args::{Args, PkiCommand};
use crate::failure::Failure;

/// Runs a `pki` command (offline: no node is called).
pub fn run(command: PkiCommand) -> Result<ExitCode, Failure> {
    let PkiCommand::Init {
        dir,
        cluster,
        node_ids,
        gateways,
        operators,
        export,
    } = command;
    let mut identities = Vec::new();
    for id in node_ids {
        identities.push(Identity::node(&cluster, id).map_err(PkiError::from)?);
    }
    for (role, names) in [(Role::Gateway, gateways), (Role::Operator, operators)] {
        for name in names {
            identities.push(Identity::new(&cluster, role, &name).map_err(PkiError::from)?);
        }
    }
    let bundle = Bundle::ensure(&dir, &cluster, &identities)?;
    let session_key = bundle.ensure_session_key()?;
    let ticket_key = bundle.ensure_ticket_key()?;
    println!("CA: {}", bundle.ca_file().display());
    println!("gateways' session key: {}", session_key.display());
    println!("tickets' QR key: {}", ticket_key.display());
    for identity in &identities {
        println!("{identity}: {}", bundle.cert_file(identity).display());
        if let Some(export) = &export {
            let dest = export.join(format!("{}-{}", identity.role(), identity.name()));
            bundle.export(identity, &dest)?;
            println!("  exported to {}", dest.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The operator certificate the CLI calls with: `--operator` of
/// `--pki-dir`, or none with `--insecure-dev`.
pub fn operator_material(args: &Args) -> Result<Option<TlsMaterial>, Failure> {
    if args.insecure_dev {
        return Ok(None);
    }
    Ok(Some(
        Bundle::at(&args.pki_dir).material_of(Role::Operator, &args.operator)?,
    ))
}
