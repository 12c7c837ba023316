//! "My tickets": each ticket with its id and a QR code to show at the gate.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::layout::{brl, esc, PageError, Visitor};
use crate::actions;
use crate::auth::session::TokenSigner;
use crate::qr;
use crate::state::AppState;

/// What a ticket's QR code says: `IJ1|ticket|event|customer|mac`, the MAC
/// (the ticket key, `AppState::ticket_signer`, never the session key)
/// letting a gate scanner check a ticket offline.
pub fn ticket_code(
    signer: &TokenSigner,
    ticket_id: &str,
    event_id: &str,
    customer_id: &str,
) -> String {
    let body = format!("IJ1|{ticket_id}|{event_id}|{customer_id}");
    let mac = signer.mac(format!("ticket\n{body}").as_bytes());
    format!("{body}|{}", URL_SAFE_NO_PAD.encode(&mac[..12]))
}

/// `GET /tickets`.
pub async fn tickets(
    State(state): State<AppState>,
    visitor: Visitor,
) -> Result<Response, PageError> {
    let customer_id = visitor.buyer()?.to_string();
    let tickets = actions::tickets(&state, &customer_id)
        .await
        .map_err(|e| visitor.error(e))?;
    let body = if tickets.is_empty() {
        format!(r#"<p id="no-tickets">{}</p>"#, visitor.t("no_tickets"))
    } else {
        let cards: String = tickets
            .iter()
            .map(|t| {
                let code = ticket_code(&state.ticket_signer, &t.ticket_id, &t.event_id, &customer_id);
                format!(
                    r#"<article class="ticket" data-ticket="{id}"><div class="ticket-qr">{qr}</div>
<div><p class="ticket-id"><code>{id}</code></p><p>{event} · {category} · {price}</p></div></article>"#,
                    id = esc(&t.ticket_id),
                    qr = qr::svg(&code),
                    event = esc(&t.event_id),
                    category = esc(&t.category_id),
                    price = brl(t.price_cents),
                )
            })
            .collect();
        format!(r#"<section class="tickets">{cards}</section>"#)
    };
    Ok(visitor.page(StatusCode::OK, visitor.t("my_tickets"), &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_names_the_ticket_and_is_keyed() {
        let a = ticket_code(&TokenSigner::new(vec![1; 32]), "T-1", "rock", "ana");
        let b = ticket_code(&TokenSigner::new(vec![2; 32]), "T-1", "rock", "ana");
        assert!(a.starts_with("IJ1|T-1|rock|ana|"));
        assert_ne!(a, b);
    }

    #[test]
    fn the_ticket_key_is_not_the_session_key() {
        // A gate scanner holds the ticket key: with it, no session can be
        // signed, derived or given.
        let text = format!(
            "listen = \"127.0.0.1:1\"\npublic_url = \"http://x\"\nnodes = [\"127.0.0.1:2\"]\n\
             insecure_dev = true\n[session]\nkey_hex = \"{}\"\n",
            "11".repeat(32)
        );
        let mut config = ingressoja_cluster_config::GatewayConfig::from_toml_str(&text).unwrap();
        let derived = crate::state::ticket_key(&config);
        assert_eq!(derived.len(), 32);
        assert_ne!(derived, config.session.key);
        config.tickets = Some(ingressoja_cluster_config::TicketsConfig {
            key: vec![0x22; 32],
            key_source: Default::default(),
        });
        assert_eq!(crate::state::ticket_key(&config), vec![0x22; 32]);
    }
}
