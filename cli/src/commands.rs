//! Running one command: call the client, print the reply as text or JSON.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use ingressoja_client::{Client, ClientError};
use serde_json::{json, Value};

use crate::args::{ClusterCommand, Command, EventCommand, RequestKey};
use crate::failure::Failure;
use crate::{audit, backup, events, health, json, queue, register, text};

/// Runs `command` against the cluster and prints its answer.
pub async fn execute(
    client: &Client,
    as_json: bool,
    command: Command,
) -> Result<ExitCode, Failure> {
    let out = Output { json: as_json };
    match command {
        Command::Cluster(command) => return cluster(client, out, command).await,
        Command::Register(args) => return register::run(client, out, args).await,
        Command::Queue(command) => return queue::run(client, out, command).await,
        Command::Events(command) => return events::run(client, out, command).await,
        Command::Audit(command) => return audit::run(client, out, command).await,
        Command::Backup { out: path, force } => {
            return backup::backup(client, out, path, force).await
        }
        // Offline: `run` handles them before any client exists.
        Command::Restore { file, configs } => return backup::restore(out, file, configs),
        Command::Pki(command) => return crate::pki::run(command),
        Command::Event(EventCommand::Create {
            event,
            name,
            categories,
            policy,
            key,
        }) => {
            let request_id = key.resolve(client);
            let created = match policy.policy() {
                Some(policy) => {
                    client
                        .create_event_with_policy_and_request_id(
                            &event, &name, categories, policy, request_id,
                        )
                        .await
                }
                None => {
                    client
                        .create_event_with_request_id(&event, &name, categories, request_id)
                        .await
                }
            };
            let reply =
                created.map_err(|e| mutation_failed(e, "event creation", client, request_id))?;
            out.emit(
                || json!({ "event_id": reply.event_id, "log_index": reply.log_index }),
                || {
                    format!(
                        "event {} created (log index {})\n",
                        reply.event_id, reply.log_index
                    )
                },
            )?;
        }
        Command::Availability { event } => {
            let reply = client.availability(&event).await?;
            out.emit(|| json::availability(&reply), || text::availability(&reply))?;
        }
        Command::Hold {
            event,
            category,
            customer,
            quantity,
            key,
        } => {
            let request_id = key.resolve(client);
            let reply = client
                .place_hold_with_request_id(&event, &category, &customer, quantity, request_id)
                .await
                .map_err(|e| mutation_failed(e, "hold", client, request_id))?;
            out.emit(
                || json!({ "hold": json::hold(reply.hold.as_ref()), "log_index": reply.log_index }),
                || text::placed_hold(reply.hold.as_ref(), reply.log_index),
            )?;
        }
        Command::Release {
            hold,
            customer,
            key,
        } => {
            let request_id = key.resolve(client);
            let reply = client
                .release_hold_with_request_id(hold, &customer, request_id)
                .await
                .map_err(|e| mutation_failed(e, "release", client, request_id))?;
            out.emit(
                || json!({ "hold": json::hold(reply.hold.as_ref()), "log_index": reply.log_index }),
                || text::released(&reply),
            )?;
        }
        Command::Purchase {
            hold,
            customer,
            payment_token,
            key,
        } => {
            let request_id = key.resolve(client);
            let token = payment_token.as_deref().unwrap_or_default();
            let reply = client
                .purchase_with_payment_and_request_id(hold, &customer, token, request_id)
                .await
                .map_err(|e| mutation_failed(e, "purchase", client, request_id))?;
            out.emit(|| json::purchase(&reply), || text::purchased(&reply))?;
        }
        Command::Tickets { customer } => {
            let reply = client.list_tickets(&customer).await?;
            out.emit(
                || json::tickets(&reply),
                || text::tickets(&customer, &reply),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `ingressoja cluster ...`
async fn cluster(
    client: &Client,
    out: Output,
    command: ClusterCommand,
) -> Result<ExitCode, Failure> {
    match command {
        ClusterCommand::Status => {
            let reports = client.cluster_status().await;
            out.emit(
                || json::cluster_status(&reports),
                || text::cluster_status(&reports),
            )?;
            return Ok(if health::leader(&reports).is_some() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        ClusterCommand::AddNode {
            id,
            addr,
            timeout_secs,
        } => {
            let mut last = None;
            let reply = client
                .add_node(id, &addr, Duration::from_secs(timeout_secs), |step| {
                    if !out.json && last != Some(step) {
                        eprintln!(
                            "node {id} catching up: applied {} of {}",
                            step.applied, step.target
                        );
                        last = Some(step);
                    }
                })
                .await?;
            out.emit(
                || json::membership(&reply),
                || text::membership(&format!("node {id} caught up and is now a voter"), &reply),
            )?;
        }
        ClusterCommand::RemoveNode { id, force } => {
            let reply = client.remove_node(id, force).await?;
            out.emit(
                || json::membership(&reply),
                || text::membership(&format!("node {id} removed"), &reply),
            )?;
        }
        ClusterCommand::RollingRestart {
            restart_command,
            timeout_secs,
        } => {
            let order = client
                .rolling_restart(
                    Duration::from_secs(timeout_secs),
                    |member| run_restart_command(restart_command.clone(), member.id, member.addr),
                    |line| eprintln!("{line}"),
                )
                .await?;
            let order: Vec<String> = order.iter().map(u64::to_string).collect();
            out.emit(
                || json!({ "restarted": order }),
                || format!("restarted nodes {} one at a time\n", order.join(", ")),
            )?;
        }
        ClusterCommand::AddLearner { id, addr } => {
            let reply = client.add_learner(id, &addr).await?;
            out.emit(
                || json::membership(&reply),
                || text::membership(&format!("node {id} added as a learner"), &reply),
            )?;
        }
        ClusterCommand::ChangeMembership { voters } => {
            let reply = client.change_membership(voters.clone()).await?;
            let voters: Vec<String> = voters.iter().map(u64::to_string).collect();
            out.emit(
                || json::membership(&reply),
                || text::membership(&format!("voters set to {}", voters.join(",")), &reply),
            )?;
        }
        ClusterCommand::Snapshot { node } => {
            let reply = client.trigger_snapshot(&node).await?;
            out.emit(
                || json!({ "node": node, "snapshot_index": reply.snapshot_index }),
                || {
                    format!(
                        "node {node} snapshotted at log index {}\n",
                        reply.snapshot_index
                    )
                },
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

impl RequestKey {
    /// The request id to send: the one given, or a fresh one.
    pub(super) fn resolve(&self, client: &Client) -> u64 {
        self.request_id.unwrap_or_else(|| client.next_request_id())
    }
}

/// A failed mutation: if the cluster was unreachable, the outcome is unknown
/// and the operator is told how to replay it safely.
pub(super) fn mutation_failed(
    error: ClientError,
    action: &'static str,
    client: &Client,
    request_id: u64,
) -> Failure {
    if error.is_unavailable() {
        Failure::OutcomeUnknown {
            source: error,
            action,
            client_id: client.client_id().to_string(),
            request_id,
        }
    } else {
        Failure::Client(error)
    }
}

/// Where and how replies are printed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    pub(crate) json: bool,
}

impl Output {
    /// Prints the reply: `as_json()` with `--json`, else `as_text()`. A
    /// closed stdout (`| head`) is not an error.
    pub(super) fn emit(
        self,
        as_json: impl FnOnce() -> Value,
        as_text: impl FnOnce() -> String,
    ) -> Result<(), Failure> {
        let rendered = if self.json {
            format!("{:#}\n", as_json())
        } else {
            as_text()
        };
        write_out(&rendered).map(|_| ())
    }

    /// Prints one item of a stream of answers, flushed at once: a compact
    /// JSON line with `--json`, else `as_text()` (one line). Returns false
    /// when stdout was closed, so the caller can stop.
    pub(super) fn line(
        self,
        as_json: impl FnOnce() -> Value,
        as_text: impl FnOnce() -> String,
    ) -> Result<bool, Failure> {
        let rendered = if self.json {
            format!("{}\n", as_json())
        } else {
            as_text()
        };
        write_out(&rendered)
    }
}

/// Writes to stdout and flushes; `Ok(false)` if the reader went away.
fn write_out(rendered: &str) -> Result<bool, Failure> {
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(rendered.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(err) => Err(Failure::Output(err)),
    }
}

/// Runs the operator's restart command for one node (`{id}` and `{addr}`
/// substituted) with `sh -c`, waiting for it to finish.
async fn run_restart_command(template: String, id: u64, addr: String) -> Result<(), String> {
    let command = template
        .replace("{id}", &id.to_string())
        .replace("{addr}", &addr);
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .status()
        .await
        .map_err(|e| format!("cannot run `{command}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{command}` exited with {status}"))
    }
}
