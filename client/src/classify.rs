//! Reading a gRPC status: is it a refusal, a redirect to the leader, or a
//! hiccup worth retrying elsewhere?
//!
//! This is the single place that inspects `tonic::Status` and its
//! `ingressoja-*` metadata, and the one place that parses the error code
//! into the shared [`ErrorCode`]; the retry loop acts on the [`Verdict`].

use std::error::Error as _;

use ingressoja_codes::{ErrorCode, NodeCode};
use ingressoja_proto::{ERROR_CODE_KEY, LEADER_ADDR_KEY};
use tonic::{Code, Status};

use crate::endpoint;
use crate::error::{ClientError, Refusal};

/// What the retry loop should do after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The node is not the leader. `leader_addr` is the leader it knows of,
    /// normalised to `host:port`, or `None` while there is none.
    NotLeader { leader_addr: Option<String> },
    /// A transient failure (node down, slow, restarting): try another node.
    /// `timed_out` tells the loop the connection may be stuck.
    Retry { reason: String, timed_out: bool },
    /// A final answer: stop and hand this to the caller.
    Fail(ClientError),
}

/// Decides what a failed attempt means.
pub(crate) fn classify(status: &Status) -> Verdict {
    let code = metadata_str(status, ERROR_CODE_KEY);
    let known = code.as_deref().and_then(|text| ErrorCode::parse(text).ok());
    if known == Some(ErrorCode::Node(NodeCode::NotLeader)) {
        let leader_addr = metadata_str(status, LEADER_ADDR_KEY)
            .and_then(|addr| endpoint::normalise(&addr).ok())
            .map(|valid| valid.addr);
        return Verdict::NotLeader { leader_addr };
    }
    match status.code() {
        Code::InvalidArgument
        | Code::NotFound
        | Code::FailedPrecondition
        | Code::ResourceExhausted
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::OutOfRange => Verdict::Fail(ClientError::Rejected {
            refusal: known.map_or(Refusal::Status(status.code()), Refusal::Known),
            code: code.unwrap_or_else(|| code_name(status.code()).to_string()),
            message: status.message().to_string(),
        }),
        Code::Unavailable | Code::Unknown | Code::Aborted => Verdict::Retry {
            reason: describe(status),
            timed_out: false,
        },
        // Not an answer but the connection breaking under the call: tonic
        // made this status locally, from the transport's error (a status
        // from the wire carries no source). Over TLS a node that stops
        // mid-stream shows up so ("h2 protocol error"), where plaintext
        // showed `unknown`.
        Code::Internal if code.is_none() && status.source().is_some() => Verdict::Retry {
            reason: describe(status),
            timed_out: false,
        },
        // tonic reports its own per-request timeout as `Cancelled`.
        Code::DeadlineExceeded | Code::Cancelled => Verdict::Retry {
            reason: describe(status),
            timed_out: true,
        },
        Code::Ok
        | Code::Internal
        | Code::Unimplemented
        | Code::Unauthenticated
        | Code::DataLoss => Verdict::Fail(ClientError::Server {
            code: code.unwrap_or_else(|| code_name(status.code()).to_string()),
            message: status.message().to_string(),
        }),
    }
}

/// A one-line human description of a status, including the transport cause
/// (e.g. "unavailable: tcp connect error: Connection refused").
pub(crate) fn describe(status: &Status) -> String {
    let mut text = format!("{}: {}", code_name(status.code()), status.message());
    let mut source = status.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The snake_case name of a gRPC code, used when the server sent no
/// `ingressoja-error` metadata.
pub(crate) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "cancelled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// A metadata value as trimmed text, `None` when absent, empty or not ASCII.
fn metadata_str(status: &Status, key: &str) -> Option<String> {
    let value = status.metadata().get(key)?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ingressoja_codes::RejectionCode;
    use tonic::metadata::MetadataValue;

    fn status_with(code: Code, message: &str, meta: &[(&'static str, &str)]) -> Status {
        let mut status = Status::new(code, message);
        for (key, value) in meta {
            status
                .metadata_mut()
                .insert(*key, MetadataValue::try_from(*value).unwrap());
        }
        status
    }

    #[test]
    fn domain_rejection_takes_its_code_from_metadata() {
        let status = status_with(
            Code::FailedPrecondition,
            "sold out: 3 requested, 1 available",
            &[(ERROR_CODE_KEY, "sold_out")],
        );
        assert_eq!(
            classify(&status),
            Verdict::Fail(ClientError::refused(
                RejectionCode::SoldOut,
                "sold out: 3 requested, 1 available"
            ))
        );
    }

    #[test]
    fn every_known_code_is_read_typed() {
        for code in ErrorCode::all().filter(|c| *c != NodeCode::NotLeader.into()) {
            let status = status_with(
                Code::FailedPrecondition,
                "no",
                &[(ERROR_CODE_KEY, code.as_str())],
            );
            let Verdict::Fail(error) = classify(&status) else {
                panic!("{code} was not final");
            };
            assert_eq!(error.refusal(), Some(Refusal::Known(code)));
            assert_eq!(error.rejection_code(), Some(code.as_str()));
            assert_eq!(error.rejection(), code.rejection());
        }
    }

    #[test]
    fn an_unknown_code_is_kept_verbatim_and_read_by_the_grpc_status() {
        let status = status_with(
            Code::FailedPrecondition,
            "a rule from a newer node",
            &[(ERROR_CODE_KEY, "brand_new_rule")],
        );
        assert_eq!(
            classify(&status),
            Verdict::Fail(ClientError::Rejected {
                code: "brand_new_rule".into(),
                refusal: Refusal::Status(Code::FailedPrecondition),
                message: "a rule from a newer node".into(),
            })
        );
    }

    #[test]
    fn every_rejection_code_is_final() {
        for code in [
            Code::InvalidArgument,
            Code::NotFound,
            Code::FailedPrecondition,
            Code::ResourceExhausted,
            Code::AlreadyExists,
            Code::PermissionDenied,
        ] {
            let verdict = classify(&Status::new(code, "no"));
            assert!(
                matches!(verdict, Verdict::Fail(ClientError::Rejected { .. })),
                "{code:?} gave {verdict:?}"
            );
        }
    }

    #[test]
    fn invalid_argument_without_metadata_is_named_after_the_grpc_code() {
        let status = Status::invalid_argument("quantity: must be positive");
        assert_eq!(
            classify(&status),
            Verdict::Fail(ClientError::Rejected {
                code: "invalid_argument".into(),
                refusal: Refusal::Status(Code::InvalidArgument),
                message: "quantity: must be positive".into(),
            })
        );
    }

    #[test]
    fn invalid_argument_with_metadata_keeps_the_domain_code() {
        let status = status_with(
            Code::InvalidArgument,
            "quantity: must be positive",
            &[(ERROR_CODE_KEY, "invalid_field")],
        );
        assert_eq!(
            classify(&status),
            Verdict::Fail(ClientError::refused(
                RejectionCode::InvalidField,
                "quantity: must be positive"
            ))
        );
    }

    #[test]
    fn not_leader_with_address_points_at_the_leader() {
        let status = status_with(
            Code::FailedPrecondition,
            "not the leader",
            &[
                (ERROR_CODE_KEY, "not_leader"),
                (LEADER_ADDR_KEY, "10.0.0.2:7102"),
            ],
        );
        assert_eq!(
            classify(&status),
            Verdict::NotLeader {
                leader_addr: Some("10.0.0.2:7102".into())
            }
        );
    }

    #[test]
    fn not_leader_address_with_scheme_is_normalised() {
        let status = status_with(
            Code::Unavailable,
            "not the leader",
            &[
                (ERROR_CODE_KEY, "not_leader"),
                (LEADER_ADDR_KEY, "http://10.0.0.2:7102/"),
            ],
        );
        assert_eq!(
            classify(&status),
            Verdict::NotLeader {
                leader_addr: Some("10.0.0.2:7102".into())
            }
        );
    }

    #[test]
    fn not_leader_with_empty_or_missing_or_garbage_address_means_unknown() {
        for meta in [
            vec![(ERROR_CODE_KEY, "not_leader"), (LEADER_ADDR_KEY, "")],
            vec![(ERROR_CODE_KEY, "not_leader"), (LEADER_ADDR_KEY, "  ")],
            vec![(ERROR_CODE_KEY, "not_leader")],
            vec![(ERROR_CODE_KEY, "not_leader"), (LEADER_ADDR_KEY, "no port")],
        ] {
            let status = status_with(Code::Unavailable, "not the leader", &meta);
            assert_eq!(
                classify(&status),
                Verdict::NotLeader { leader_addr: None },
                "{meta:?}"
            );
        }
    }

    #[test]
    fn not_leader_wins_over_any_grpc_code() {
        let status = status_with(
            Code::PermissionDenied,
            "x",
            &[(ERROR_CODE_KEY, "not_leader")],
        );
        assert_eq!(classify(&status), Verdict::NotLeader { leader_addr: None });
    }

    #[test]
    fn a_connection_broken_under_the_call_is_retried_but_a_servers_internal_error_is_not() {
        let mut broken = Status::internal("h2 protocol error: http2 error");
        broken.set_source(std::sync::Arc::new(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "peer closed connection without sending TLS close_notify",
        )));
        assert!(matches!(
            classify(&broken),
            Verdict::Retry {
                timed_out: false,
                ..
            }
        ));
        let answered = Status::internal("the state machine failed");
        assert!(matches!(
            classify(&answered),
            Verdict::Fail(ClientError::Server { .. })
        ));
    }

    #[test]
    fn transient_codes_are_retried() {
        for (code, timed_out) in [
            (Code::Unavailable, false),
            (Code::Unknown, false),
            (Code::Aborted, false),
            (Code::DeadlineExceeded, true),
            (Code::Cancelled, true),
        ] {
            match classify(&Status::new(code, "boom")) {
                Verdict::Retry {
                    reason,
                    timed_out: t,
                } => {
                    assert_eq!(t, timed_out, "{code:?}");
                    assert!(reason.contains("boom"), "{reason}");
                }
                other => panic!("{code:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn unavailable_with_a_non_leader_code_is_still_retried() {
        let status = status_with(
            Code::Unavailable,
            "shutting down",
            &[(ERROR_CODE_KEY, "shutting_down")],
        );
        assert!(matches!(classify(&status), Verdict::Retry { .. }));
    }

    #[test]
    fn internal_errors_are_final_server_errors() {
        assert_eq!(
            classify(&Status::internal("storage broke")),
            Verdict::Fail(ClientError::Server {
                code: "internal".into(),
                message: "storage broke".into(),
            })
        );
    }

    #[test]
    fn description_names_the_code() {
        assert_eq!(
            describe(&Status::unavailable("tcp connect error")),
            "unavailable: tcp connect error"
        );
    }
}
