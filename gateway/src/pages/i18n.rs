//! The shop's words in Brazilian Portuguese (the default) and English.

use axum::http::HeaderMap;
use ingressoja_codes::{ErrorCode, NodeCode, PaymentCode, RejectionCode};

use crate::web::{cookie, LANG_COOKIE};

/// A language the shop speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Brazilian Portuguese, the default.
    Pt,
    /// English.
    En,
}

impl Lang {
    /// The visitor's language: the `ij_lang` cookie, else Portuguese.
    pub fn of(headers: &HeaderMap) -> Lang {
        match cookie(headers, LANG_COOKIE).as_deref() {
            Some("en") => Lang::En,
            _ => Lang::Pt,
        }
    }

    /// The `lang` attribute of the page.
    pub fn html_tag(self) -> &'static str {
        match self {
            Lang::Pt => "pt-BR",
            Lang::En => "en",
        }
    }

    /// The text for `key`: an entry of [`TEXTS`], or `err.<code>` for a
    /// cluster code ([`Lang::code_text`]); `?` if missing, which tests forbid.
    pub fn t(self, key: &str) -> &'static str {
        if let Some((_, pt, en)) = TEXTS.iter().find(|(k, _, _)| *k == key) {
            return self.pick(pt, en);
        }
        match key.strip_prefix("err.").map(ErrorCode::parse) {
            Some(Ok(code)) => self.code_text(code),
            _ => "?",
        }
    }

    /// What a buyer reads for a cluster code: what happened and what to do.
    pub fn code_text(self, code: ErrorCode) -> &'static str {
        let (pt, en) = code_texts(code);
        self.pick(pt, en)
    }

    fn pick(self, pt: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Pt => pt,
            Lang::En => en,
        }
    }
}

/// `(err.<code>, text)` for every cluster code, for the page script (which
/// translates the `reason` of a rejected notification by the same keys).
pub fn code_keys(lang: Lang) -> impl Iterator<Item = (String, &'static str)> {
    ErrorCode::all().map(move |code| (format!("err.{code}"), lang.code_text(code)))
}

/// `(português, English)` for each cluster code. Every code is named (no
/// catch-all), so a new code does not compile until buyers can read it.
fn code_texts(code: ErrorCode) -> (&'static str, &'static str) {
    match code {
        ErrorCode::Rejection(code) => rejection_texts(code),
        ErrorCode::Payment(code) => match code {
            PaymentCode::Declined => (
                "Pagamento recusado. Sua reserva continua valendo: tente outro cartão.",
                "Payment declined. Your hold is still valid: try another card.",
            ),
            PaymentCode::Failed => (
                "O pagamento falhou. Nada foi cobrado; tente de novo.",
                "Payment failed. Nothing was charged; try again.",
            ),
        },
        ErrorCode::Node(code) => match code {
            NodeCode::NotLeader | NodeCode::Unavailable => (
                "O sistema de ingressos não respondeu. Tente de novo: nada é cobrado duas vezes.",
                "The ticket system did not answer. Try again: nothing is charged twice.",
            ),
            NodeCode::NotFound => ("Não encontrado.", "Not found."),
            NodeCode::Internal => (
                "O sistema de ingressos falhou. Tente de novo em instantes.",
                "The ticket system failed. Try again in a moment.",
            ),
        },
    }
}

fn rejection_texts(code: RejectionCode) -> (&'static str, &'static str) {
    match code {
        RejectionCode::InvalidField => (
            "Algum dado do pedido é inválido. Confira e tente de novo.",
            "Some of the data sent is not valid. Check it and try again.",
        ),
        RejectionCode::UnknownEvent => ("Evento não encontrado.", "Event not found."),
        RejectionCode::UnknownCategory => (
            "Este setor não existe neste evento.",
            "This event has no such category.",
        ),
        RejectionCode::EventExists => (
            "Já existe um evento com este código.",
            "An event with this id already exists.",
        ),
        RejectionCode::SoldOut => (
            "Esgotado: não há ingressos suficientes neste setor.",
            "Sold out: not enough tickets left in this category.",
        ),
        RejectionCode::LimitExceeded => (
            "Limite de ingressos por CPF atingido.",
            "Ticket limit per CPF reached.",
        ),
        RejectionCode::HoldNotFound => ("Reserva não encontrada.", "Hold not found."),
        RejectionCode::HoldNotYours => (
            "Esta reserva é de outra pessoa.",
            "This hold belongs to someone else.",
        ),
        RejectionCode::HoldExpired => (
            "A reserva expirou. Reserve de novo.",
            "The hold expired. Please hold again.",
        ),
        RejectionCode::HoldReleased => (
            "Esta reserva foi cancelada. Reserve de novo.",
            "This hold was released. Please hold again.",
        ),
        RejectionCode::AlreadyPurchased => (
            "Esta reserva já foi paga: seus ingressos estão em “Meus ingressos”.",
            "This hold is already paid: your tickets are in “My tickets”.",
        ),
        RejectionCode::IdempotencyKeyReused => (
            "Este pedido já foi usado para outra operação. Recarregue a página e tente de novo.",
            "This request was already used for another operation. Reload the page and try again.",
        ),
        RejectionCode::UnknownCustomer => ("Conta não encontrada.", "Account not found."),
        RejectionCode::CustomerExists => ("Este usuário já existe.", "This username is taken."),
        RejectionCode::DuplicateDocument => (
            "Já existe uma conta com este CPF.",
            "An account with this CPF already exists.",
        ),
        RejectionCode::DuplicateEmail => (
            "Já existe uma conta com este e-mail.",
            "An account with this e-mail already exists.",
        ),
        RejectionCode::QueueClosed => (
            "A fila deste evento está fechada.",
            "This event's queue is closed.",
        ),
        RejectionCode::NotInQueue => (
            "Você não está na fila deste evento: entre na fila.",
            "You are not in this event's queue: join it.",
        ),
        RejectionCode::NotAdmitted => (
            "Ainda não é a sua vez: entre na fila.",
            "Not your turn yet: join the queue.",
        ),
        RejectionCode::SaleNotOpen => ("A venda ainda não abriu.", "The sale has not opened yet."),
        RejectionCode::LiveHoldExists => (
            "Você já tem uma reserva ativa. Pague ou cancele antes de reservar de novo.",
            "You already have a live hold. Pay or release it first.",
        ),
        RejectionCode::PaymentMissing | RejectionCode::PaymentMismatch => (
            "O pagamento não confere com a reserva. Nada foi vendido; tente de novo.",
            "The payment does not match the hold. Nothing was sold; try again.",
        ),
        RejectionCode::TotpAlreadyEnrolled => (
            "A verificação em duas etapas já está ativada nesta conta.",
            "Two-step verification is already on for this account.",
        ),
        RejectionCode::TotpReplayed => (
            "Este código já foi usado. Aguarde o próximo código no app.",
            "This code was already used. Wait for the next code in the app.",
        ),
    }
}

/// `(key, português, English)`. Error codes from the cluster and the
/// gateway are keys too (`err.<code>`), so buyers read what to do, not a code.
pub const TEXTS: &[(&str, &str, &str)] = &[
    ("shop", "IngressoJá", "IngressoJá"),
    ("events", "Eventos", "Events"),
    ("my_tickets", "Meus ingressos", "My tickets"),
    ("login", "Entrar", "Sign in"),
    ("logout", "Sair", "Sign out"),
    ("register", "Criar conta", "Create account"),
    ("customer_id", "Usuário", "Username"),
    ("login_name", "Usuário ou e-mail", "Username or e-mail"),
    ("email", "E-mail", "E-mail"),
    ("cpf", "CPF", "CPF (Brazilian taxpayer id)"),
    ("display_name", "Nome completo", "Full name"),
    ("password", "Senha (mínimo 8 caracteres)", "Password (at least 8 characters)"),
    ("password_plain", "Senha", "Password"),
    ("code", "Código de 6 dígitos", "6-digit code"),
    ("continue", "Continuar", "Continue"),
    ("twofa_title", "Verificação em duas etapas", "Two-step verification"),
    ("twofa_scan", "Escaneie o QR code com seu app autenticador (Google Authenticator, Authy, 1Password...) e digite o código que ele mostra.", "Scan the QR code with your authenticator app (Google Authenticator, Authy, 1Password...) and type the code it shows."),
    ("twofa_manual", "Ou digite esta chave no app:", "Or type this key in the app:"),
    ("twofa_activate", "Ativar", "Turn on"),
    ("twofa_on", "Verificação em duas etapas ativada. Da próxima vez, o login pedirá o código.", "Two-step verification is on. Next time, signing in will ask for the code."),
    ("twofa_already", "A verificação em duas etapas já está ativada nesta conta.", "Two-step verification is already on for this account."),
    ("twofa_skip", "Agora não", "Not now"),
    ("twofa_login", "Digite o código do seu app autenticador.", "Type the code from your authenticator app."),
    ("welcome", "Conta criada. Bem-vindo(a)!", "Account created. Welcome!"),
    ("signed_in", "Você entrou.", "You are signed in."),
    ("category", "Setor", "Category"),
    ("price", "Preço", "Price"),
    ("available", "Disponíveis", "Available"),
    ("quantity", "Quantidade", "Quantity"),
    ("hold", "Reservar", "Hold"),
    ("sold_out", "Esgotado", "Sold out"),
    ("join_queue", "Entrar na fila", "Join the queue"),
    ("queue_needed", "As vendas deste evento passam por uma fila virtual. Entre na fila e aguarde sua vez.", "This event sells through a virtual queue. Join and wait for your turn."),
    ("pow_working", "Verificando que você não é um robô…", "Checking you are not a robot…"),
    ("waiting_room", "Sala de espera", "Waiting room"),
    ("position", "Sua posição", "Your place"),
    ("ahead", "Pessoas à sua frente", "People ahead"),
    ("wait", "Espera estimada", "Estimated wait"),
    ("pre_queue", "A venda ainda não abriu. Quem entrou antes da abertura é sorteado na abertura: chegar cedo não dá vantagem.", "The sale has not opened yet. Everyone who joins before opening is shuffled at opening: arriving early gives no advantage."),
    ("queue_live", "Esta página se atualiza sozinha. Não recarregue: você não perde o lugar.", "This page updates by itself. No need to reload: you keep your place."),
    ("admitted", "Chegou a sua vez! Escolha seus ingressos.", "It's your turn! Choose your tickets."),
    ("admitted_until", "Sua vez vale até", "Your turn is valid until"),
    ("go_to_event", "Escolher ingressos", "Choose tickets"),
    ("admission_over", "As vendas deste evento encerraram.", "Sales for this event are over."),
    ("checkout", "Pagamento", "Checkout"),
    ("hold_countdown", "Seus ingressos estão reservados por", "Your tickets are held for"),
    ("hold_expired_now", "A reserva expirou e os ingressos voltaram à venda.", "The hold expired and the tickets went back on sale."),
    ("payment", "Forma de pagamento (teste)", "Payment method (test)"),
    ("pay_approve", "Cartão aprovado", "Card approved"),
    ("pay_decline", "Cartão recusado", "Card declined"),
    ("pay_fail", "Erro no processador", "Processor error"),
    ("pay_timeout", "Processador sem resposta", "Processor timeout"),
    ("pay", "Pagar", "Pay"),
    ("release", "Desistir da reserva", "Give the tickets back"),
    ("released", "Reserva cancelada; os ingressos voltaram à venda.", "Hold released; the tickets are back on sale."),
    ("total", "Total", "Total"),
    ("confirmed", "Compra confirmada!", "Purchase confirmed!"),
    ("confirmed_detail", "Seus ingressos estão em “Meus ingressos”. Guarde o QR code.", "Your tickets are in “My tickets”. Keep the QR code."),
    ("hold_status_purchased", "Esta reserva já foi paga.", "This hold is already paid."),
    ("hold_status_released", "Esta reserva foi cancelada.", "This hold was released."),
    ("hold_status_expired", "Esta reserva expirou.", "This hold expired."),
    ("ticket", "Ingresso", "Ticket"),
    ("no_tickets", "Você ainda não tem ingressos.", "You have no tickets yet."),
    ("no_events", "Nenhum evento à venda no momento.", "No events on sale right now."),
    ("error_title", "Algo deu errado", "Something went wrong"),
    ("back", "Voltar", "Back"),
    ("retry_in", "Tente de novo em", "Try again in"),
    ("seconds", "s", "s"),
    ("n.admitted", "Chegou a sua vez na fila!", "It's your turn in the queue!"),
    ("n.hold_created", "Ingressos reservados.", "Tickets held."),
    ("n.hold_expiring", "Sua reserva está quase expirando: conclua o pagamento.", "Your hold is about to expire: finish paying."),
    ("n.hold_expired", "Sua reserva expirou.", "Your hold expired."),
    ("n.hold_released", "Reserva cancelada.", "Hold released."),
    ("n.purchase_confirmed", "Compra confirmada!", "Purchase confirmed!"),
    ("n.payment_declined", "Pagamento recusado. A reserva continua valendo: tente outro cartão.", "Payment declined. Your hold is still valid: try another card."),
    ("n.rejected", "Pedido recusado.", "Request refused."),
    ("n.stream_error", "Reconectando…", "Reconnecting…"),
    ("err.bad_credentials", "Usuário ou senha incorretos.", "Wrong username or password."),
    ("err.bad_totp_code", "Código inválido. Use o código atual do seu app.", "Invalid code. Use the current code from your app."),
    ("err.account_locked", "Muitas tentativas erradas. A conta está bloqueada por alguns instantes.", "Too many failed attempts. The account is locked for a moment."),
    ("err.csrf_failed", "O formulário expirou. Recarregue a página e tente de novo.", "The form expired. Reload the page and try again."),
    ("err.rate_limited", "Muitas tentativas seguidas. Aguarde um pouco.", "Too many attempts in a row. Please wait a little."),
    ("err.overloaded", "Muita gente ao mesmo tempo. Tente de novo em instantes.", "Very busy right now. Try again in a moment."),
    ("err.unauthenticated", "Entre na sua conta para continuar.", "Sign in to continue."),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_has_both_languages_and_keys_are_unique() {
        let mut keys = std::collections::HashSet::new();
        for (key, pt, en) in TEXTS {
            assert!(keys.insert(key), "duplicate key {key}");
            assert!(!pt.is_empty() && !en.is_empty(), "{key}");
        }
        assert_eq!(Lang::Pt.t("pay"), "Pagar");
        assert_eq!(Lang::En.t("pay"), "Pay");
        assert_eq!(Lang::En.t("no such key"), "?");
    }

    #[test]
    fn every_cluster_code_reads_in_both_languages_under_its_key() {
        for code in ErrorCode::all() {
            let key = format!("err.{code}");
            assert!(
                TEXTS.iter().all(|(k, _, _)| *k != key),
                "{key} is in TEXTS too"
            );
            for lang in [Lang::Pt, Lang::En] {
                assert_eq!(lang.t(&key), lang.code_text(code));
                assert!(!lang.code_text(code).is_empty(), "{key}");
            }
        }
        assert_eq!(code_keys(Lang::En).count(), ErrorCode::all().count());
        assert!(Lang::Pt.t("err.sold_out").starts_with("Esgotado"));
        assert_eq!(Lang::En.t("err.brand_new_rule"), "?");
    }
}
