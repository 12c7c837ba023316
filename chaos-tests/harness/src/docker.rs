//! The few Docker operations the harness needs, through the `docker` CLI
//! (present wherever Docker is), each failure a typed [`DockerError`] that
//! names the command and what Docker said.
//!
//! Everything the harness creates carries the run's prefix in its name, so
//! [`Docker::remove_all`] can take it all away again, even after a crash of
//! an earlier run (`ingressoja-chaos --cleanup`).

use std::process::Stdio;

use tokio::process::Command;

/// Why a Docker operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("docker is not installed or not on PATH ({0}); install Docker Engine")]
    NotInstalled(String),
    #[error("the Docker daemon is not running or not reachable: {0}; start it (e.g. `systemctl start docker`)")]
    NotRunning(String),
    #[error("image {image} is missing; build it with ./scripts/build-images.sh")]
    ImageMissing { image: String },
    #[error("`docker {args}` failed: {stderr}")]
    Failed { args: String, stderr: String },
}

/// Runs `docker` commands; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Docker;

impl Docker {
    /// Runs `docker args...` and returns its trimmed stdout.
    pub async fn run(&self, args: &[&str]) -> Result<String, DockerError> {
        let out = Command::new("docker")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| DockerError::NotInstalled(e.to_string()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(DockerError::Failed {
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    }

    /// Checks that the daemon answers and that `image` exists.
    pub async fn preflight(&self, image: &str) -> Result<(), DockerError> {
        if let Err(e) = self
            .run(&["version", "--format", "{{.Server.Version}}"])
            .await
        {
            return Err(match e {
                DockerError::Failed { stderr, .. } => DockerError::NotRunning(stderr),
                other => other,
            });
        }
        if self.run(&["image", "inspect", image]).await.is_err() {
            return Err(DockerError::ImageMissing {
                image: image.to_string(),
            });
        }
        Ok(())
    }

    /// The PID (on the host) of a running container's first process: its
    /// namespaces are where network faults are injected.
    pub async fn pid(&self, container: &str) -> Result<u32, DockerError> {
        let pid = self
            .run(&["inspect", "-f", "{{.State.Pid}}", container])
            .await?;
        pid.parse()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| DockerError::Failed {
                args: format!("inspect {container}"),
                stderr: format!("container is not running (pid {pid:?})"),
            })
    }

    /// Removes every container and network whose name starts with `prefix`.
    pub async fn remove_all(&self, prefix: &str) -> Result<(), DockerError> {
        let filter = format!("name=^{prefix}");
        let containers = self.run(&["ps", "-aq", "--filter", &filter]).await?;
        let ids: Vec<&str> = containers.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids);
            self.run(&args).await?;
        }
        let networks = self
            .run(&["network", "ls", "-q", "--filter", &filter])
            .await?;
        for id in networks.split_whitespace() {
            self.run(&["network", "rm", id]).await?;
        }
        Ok(())
    }
}

/// Runs a command inside the network namespace of the process `pid` (as
/// root, with the host's `iptables`/`tc`): containers from scratch have no
/// tools of their own.
pub async fn in_netns(pid: u32, program: &str, args: &[&str]) -> Result<(), DockerError> {
    let pid = pid.to_string();
    let mut full = vec!["-t", pid.as_str(), "-n", program];
    full.extend_from_slice(args);
    let out = Command::new("nsenter")
        .args(&full)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| DockerError::Failed {
            args: format!("nsenter {}", full.join(" ")),
            stderr: e.to_string(),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(DockerError::Failed {
            args: format!("nsenter {}", full.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}
