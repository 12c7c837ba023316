//! `ingressoja events watch`: the cluster's domain events as they happen.

use std::process::ExitCode;

use clap::Subcommand;
use ingressoja_client::proto::ticketing::DomainEvent;
use ingressoja_client::Client;
use serde_json::{json, Value};

use crate::commands::Output;
use crate::failure::Failure;

/// `ingressoja events ...`
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Print domain events as they are applied, one per line, following
    /// node failures without gaps or repeats.
    Watch {
        /// First event to print (0: the oldest still kept).
        #[arg(long, value_name = "N", default_value_t = 0)]
        from_seq: u64,
        /// Only this customer's events.
        #[arg(long)]
        customer: Option<String>,
        /// Stop after this many events.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,
    },
}

/// Runs an `events` command.
pub async fn run(
    client: &Client,
    out: Output,
    command: EventsCommand,
) -> Result<ExitCode, Failure> {
    let EventsCommand::Watch {
        from_seq,
        customer,
        count,
    } = command;
    let mut watch = client.watch_events(from_seq, customer.as_deref());
    let mut printed = 0u64;
    while count.is_none_or(|count| printed < count) {
        let event = watch.next().await?;
        if !out.line(|| json(&event), || text(&event))? {
            break;
        }
        printed += 1;
    }
    Ok(ExitCode::SUCCESS)
}

/// One event as a line: seq, log index, kind, the ids involved, the reason.
fn text(e: &DomainEvent) -> String {
    let mut line = format!("{:>6}  log {:<6}  {:<18}", e.seq, e.log_index, e.kind);
    let mut field = |name: &str, value: &str| {
        if !value.is_empty() {
            line.push_str(&format!("  {name}={value}"));
        }
    };
    field("event", &e.event_id);
    field("customer", &e.customer_id);
    field("category", &e.category_id);
    if e.hold_id != 0 {
        field("hold", &e.hold_id.to_string());
    }
    if e.quantity != 0 {
        field("qty", &e.quantity.to_string());
    }
    field("tickets", &e.ticket_ids.join(","));
    field("reason", &e.reason);
    let mut line = line.trim_end().to_string();
    line.push('\n');
    line
}

/// One event as JSON.
fn json(e: &DomainEvent) -> Value {
    json!({
        "seq": e.seq,
        "log_index": e.log_index,
        "ts_ms": e.ts_ms,
        "kind": e.kind,
        "event_id": e.event_id,
        "customer_id": e.customer_id,
        "hold_id": e.hold_id,
        "category_id": e.category_id,
        "quantity": e.quantity,
        "ticket_ids": e.ticket_ids,
        "reason": e.reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_only_the_fields_that_are_set() {
        let event = DomainEvent {
            seq: 12,
            log_index: 340,
            kind: "purchase_confirmed".into(),
            event_id: "rock".into(),
            customer_id: "alice".into(),
            hold_id: 7,
            ticket_ids: vec!["TKT-00000001".into(), "TKT-00000002".into()],
            ..DomainEvent::default()
        };
        assert_eq!(
            text(&event),
            "    12  log 340     purchase_confirmed  event=rock  customer=alice  hold=7  tickets=TKT-00000001,TKT-00000002\n"
        );
        let rejected = DomainEvent {
            seq: 13,
            log_index: 341,
            kind: "rejected".into(),
            reason: "sold_out".into(),
            ..DomainEvent::default()
        };
        assert_eq!(
            text(&rejected),
            "    13  log 341     rejected            reason=sold_out\n"
        );
    }
}
