//! `ingressoja queue ...`: joining an event's virtual queue and watching
//! one's place in it.

use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use ingressoja_client::proto::ticketing::QueueStatus;
use ingressoja_client::Client;
use serde_json::{json, Value};

use crate::args::RequestKey;
use crate::commands::{mutation_failed, Output};
use crate::failure::Failure;
use crate::format::{now_ms, relative, utc};

/// How often `queue status --wait` asks.
const POLL: Duration = Duration::from_secs(1);

/// `ingressoja queue ...`
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Join an event's queue (joining again keeps the same place).
    Join {
        /// Event id.
        #[arg(long)]
        event: String,
        /// Customer id.
        #[arg(long)]
        customer: String,
        #[command(flatten)]
        key: RequestKey,
    },
    /// Show a customer's place in an event's queue.
    Status {
        /// Event id.
        #[arg(long)]
        event: String,
        /// Customer id.
        #[arg(long)]
        customer: String,
        /// Ask every second, printing each answer, until admitted (exit 0)
        /// or the admission is over (exit 1).
        #[arg(long)]
        wait: bool,
    },
}

/// Runs a `queue` command.
pub async fn run(client: &Client, out: Output, command: QueueCommand) -> Result<ExitCode, Failure> {
    match command {
        QueueCommand::Join {
            event,
            customer,
            key,
        } => {
            let request_id = key.resolve(client);
            let status = client
                .join_queue_with_request_id(&event, &customer, request_id)
                .await
                .map_err(|e| mutation_failed(e, "queue join", client, request_id))?;
            out.emit(|| json(&status), || format!("joined: {}", text(&status)))?;
            Ok(ExitCode::SUCCESS)
        }
        QueueCommand::Status {
            event,
            customer,
            wait: false,
        } => {
            let status = client.queue_status(&event, &customer).await?;
            out.emit(|| json(&status), || text(&status))?;
            Ok(ExitCode::SUCCESS)
        }
        QueueCommand::Status {
            event,
            customer,
            wait: true,
        } => loop {
            let status = client.queue_status(&event, &customer).await?;
            if !out.line(|| json(&status), || text(&status))? {
                return Ok(ExitCode::SUCCESS);
            }
            if status.admission_over {
                return Ok(ExitCode::FAILURE);
            }
            if status.admitted {
                return Ok(ExitCode::SUCCESS);
            }
            tokio::time::sleep(POLL).await;
        },
    }
}

/// A queue status as one line.
fn text(s: &QueueStatus) -> String {
    let who = format!("{} in the queue for {}", s.customer_id, s.event_id);
    if s.admission_over {
        return format!("{who}: admission over (used for a purchase, or lapsed)\n");
    }
    if s.admitted {
        return format!(
            "{who}: ADMITTED, may hold tickets until {} ({})\n",
            utc(s.admission_expires_at_ms),
            relative(s.admission_expires_at_ms, now_ms())
        );
    }
    if s.in_pre_queue {
        return format!(
            "{who}: in the pre-queue ({} waiting); places are drawn when the sale opens\n",
            s.queue_length
        );
    }
    let wait = if s.estimated_wait_ms == 0 {
        "unknown".to_string()
    } else {
        relative(s.estimated_wait_ms, 0).replace("in ", "about ")
    };
    format!(
        "{who}: position {} of {}, {} ahead, estimated wait {wait}\n",
        s.seq, s.queue_length, s.people_ahead
    )
}

/// A queue status as JSON.
fn json(s: &QueueStatus) -> Value {
    json!({
        "event_id": s.event_id,
        "customer_id": s.customer_id,
        "seq": s.seq,
        "in_pre_queue": s.in_pre_queue,
        "people_ahead": s.people_ahead,
        "admitted_up_to": s.admitted_up_to,
        "admitted": s.admitted,
        "admission_expires_at_ms": s.admission_expires_at_ms,
        "estimated_wait_ms": s.estimated_wait_ms,
        "queue_length": s.queue_length,
        "log_index": s.log_index,
        "admission_over": s.admission_over,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> QueueStatus {
        QueueStatus {
            event_id: "rock".into(),
            customer_id: "alice".into(),
            seq: 42,
            people_ahead: 41,
            queue_length: 100,
            estimated_wait_ms: 200_000,
            ..QueueStatus::default()
        }
    }

    #[test]
    fn waiting_shows_place_people_ahead_and_wait() {
        assert_eq!(
            text(&status()),
            "alice in the queue for rock: position 42 of 100, 41 ahead, estimated wait about 3m 20s\n"
        );
    }

    #[test]
    fn admitted_and_over_and_pre_queue_say_so() {
        let admitted = QueueStatus {
            admitted: true,
            admission_expires_at_ms: 1_748_781_296_789,
            ..status()
        };
        assert!(text(&admitted).contains("ADMITTED"));
        assert!(text(&admitted).contains("2025-06-01 12:34:56 UTC"));
        let over = QueueStatus {
            admission_over: true,
            ..admitted
        };
        assert!(text(&over).contains("admission over"));
        let pre = QueueStatus {
            in_pre_queue: true,
            seq: 0,
            ..status()
        };
        assert!(text(&pre).contains("pre-queue (100 waiting)"));
    }
}
