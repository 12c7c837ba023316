//! A gRPC status carried inside a `Submit` answer ([`ticketing::CallError`]),
//! and back: the node turns each failed call's status into one, the client
//! turns it into the status the call would have got alone, with the
//! metadata (error code, leader hint) its retry loop reads.

use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

use crate::ticketing::CallError;
use crate::{ERROR_CODE_KEY, LEADER_ADDR_KEY, LEADER_ID_KEY};

fn metadata(status: &Status, key: &str) -> String {
    status
        .metadata()
        .get(key)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

impl From<&Status> for CallError {
    fn from(status: &Status) -> CallError {
        CallError {
            code: status.code() as i32,
            message: status.message().to_string(),
            error_code: metadata(status, ERROR_CODE_KEY),
            leader_id: metadata(status, LEADER_ID_KEY),
            leader_addr: metadata(status, LEADER_ADDR_KEY),
        }
    }
}

impl From<CallError> for Status {
    fn from(error: CallError) -> Status {
        let mut status = Status::new(Code::from_i32(error.code), error.message);
        let md = status.metadata_mut();
        for (key, value) in [
            (ERROR_CODE_KEY, error.error_code),
            (LEADER_ID_KEY, error.leader_id),
            (LEADER_ADDR_KEY, error.leader_addr),
        ] {
            if value.is_empty() {
                continue;
            }
            if let Ok(value) = MetadataValue::try_from(value.as_str()) {
                md.insert(key, value);
            }
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_survives_the_trip_with_its_metadata() {
        let mut status = Status::failed_precondition("category pista is sold out");
        status
            .metadata_mut()
            .insert(ERROR_CODE_KEY, MetadataValue::from_static("sold_out"));
        let back = Status::from(CallError::from(&status));
        assert_eq!(back.code(), Code::FailedPrecondition);
        assert_eq!(back.message(), "category pista is sold out");
        assert_eq!(back.metadata().get(ERROR_CODE_KEY).unwrap(), "sold_out");
        assert!(back.metadata().get(LEADER_ADDR_KEY).is_none());

        let mut redirect = Status::unavailable("not the leader");
        let md = redirect.metadata_mut();
        md.insert(ERROR_CODE_KEY, MetadataValue::from_static("not_leader"));
        md.insert(LEADER_ID_KEY, MetadataValue::from_static("2"));
        md.insert(
            LEADER_ADDR_KEY,
            MetadataValue::from_static("127.0.0.1:7102"),
        );
        let back = Status::from(CallError::from(&redirect));
        assert_eq!(back.code(), Code::Unavailable);
        assert_eq!(back.metadata().get(LEADER_ID_KEY).unwrap(), "2");
        assert_eq!(
            back.metadata().get(LEADER_ADDR_KEY).unwrap(),
            "127.0.0.1:7102"
        );
    }

    #[test]
    fn an_unknown_code_or_bad_metadata_does_not_panic() {
        let back = Status::from(CallError {
            code: 999,
            message: "m".into(),
            error_code: "bad\nvalue".into(),
            leader_id: String::new(),
            leader_addr: String::new(),
        });
        assert_eq!(back.code(), Code::Unknown);
        assert!(back.metadata().get(ERROR_CODE_KEY).is_none());
    }
}
