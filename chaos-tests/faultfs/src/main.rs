//! `ingressoja-faultfs --backing DIR --mount DIR --control SOCKET`: mounts
//! the fault-injecting pass-through and serves its control socket until a
//! `quit` command (or a signal) ends it; it unmounts on the way out.

use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{mpsc, Arc};

use clap::Parser;
use fuser::{Config, MountOption};
use ingressoja_faultfs::{control, disk::Disk, fs::FaultFs};

#[derive(Parser)]
#[command(name = "ingressoja-faultfs", version)]
struct Args {
    /// The directory holding the files (the "platter").
    #[arg(long)]
    backing: PathBuf,
    /// Where to mount the pass-through (an existing, empty directory).
    #[arg(long)]
    mount: PathBuf,
    /// The control socket to create.
    #[arg(long)]
    control: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    for (name, dir) in [("--backing", &args.backing), ("--mount", &args.mount)] {
        if !dir.is_dir() {
            eprintln!("error: {name} {}: not a directory", dir.display());
            return ExitCode::from(2);
        }
    }
    let _ = std::fs::remove_file(&args.control);
    let listener = match UnixListener::bind(&args.control) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: --control {}: {e}", args.control.display());
            return ExitCode::from(2);
        }
    };
    let disk = Arc::new(Disk::new(args.backing.clone()));
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName("ingressoja-faultfs".into()),
        MountOption::Subtype("ingressoja-faultfs".into()),
        MountOption::RW,
    ];
    // More than one: a slow fsync (the `fsync-delay` fault) sleeps outside
    // the disk's lock and must not hold up every other call.
    config.n_threads = Some(4);
    let session = match fuser::spawn_mount(FaultFs::new(disk.clone()), &args.mount, &config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "error: mounting on {}: {e} (needs /dev/fuse, root or fusermount3)",
                args.mount.display()
            );
            return ExitCode::from(1);
        }
    };
    eprintln!(
        "faultfs: {} mounted on {}, control {}",
        args.backing.display(),
        args.mount.display(),
        args.control.display()
    );
    let (quit_tx, quit_rx) = mpsc::channel();
    std::thread::spawn(move || control::serve(listener, disk, quit_tx));
    let _ = quit_rx.recv();
    drop(session);
    let _ = std::fs::remove_file(&args.control);
    ExitCode::SUCCESS
}
