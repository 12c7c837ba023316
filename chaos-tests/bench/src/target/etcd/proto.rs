//! The few messages of etcd's v3 KV API the benchmark sends (`Range`, `Txn`,
//! `Put`), written by hand with prost's derive so no `protoc` and no second
//! gRPC stack are needed. Field numbers follow etcd's `rpc.proto` and
//! `kv.proto` (`etcdserverpb`, `mvccpb`).

use prost::Message;

/// `etcdserverpb.ResponseHeader`.
#[derive(Clone, PartialEq, Message)]
pub struct ResponseHeader {
    #[prost(uint64, tag = "1")]
    pub cluster_id: u64,
    #[prost(uint64, tag = "2")]
    pub member_id: u64,
    #[prost(int64, tag = "3")]
    pub revision: i64,
    #[prost(uint64, tag = "4")]
    pub raft_term: u64,
}

/// `mvccpb.KeyValue`.
#[derive(Clone, PartialEq, Message)]
pub struct KeyValue {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(int64, tag = "2")]
    pub create_revision: i64,
    #[prost(int64, tag = "3")]
    pub mod_revision: i64,
    #[prost(int64, tag = "4")]
    pub version: i64,
    #[prost(bytes = "vec", tag = "5")]
    pub value: Vec<u8>,
    #[prost(int64, tag = "6")]
    pub lease: i64,
}

/// `etcdserverpb.RangeRequest` (only the fields used; a linearizable read).
#[derive(Clone, PartialEq, Message)]
pub struct RangeRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub range_end: Vec<u8>,
}

/// `etcdserverpb.RangeResponse`.
#[derive(Clone, PartialEq, Message)]
pub struct RangeResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(message, repeated, tag = "2")]
    pub kvs: Vec<KeyValue>,
    #[prost(bool, tag = "3")]
    pub more: bool,
    #[prost(int64, tag = "4")]
    pub count: i64,
}

/// `etcdserverpb.PutRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct PutRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `etcdserverpb.PutResponse`.
#[derive(Clone, PartialEq, Message)]
pub struct PutResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
}

/// `etcdserverpb.DeleteRangeRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct DeleteRangeRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub range_end: Vec<u8>,
}

/// `etcdserverpb.DeleteRangeResponse`.
#[derive(Clone, PartialEq, Message)]
pub struct DeleteRangeResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(int64, tag = "2")]
    pub deleted: i64,
}

/// `etcdserverpb.RequestOp`: one operation of a transaction.
#[derive(Clone, PartialEq, Message)]
pub struct RequestOp {
    #[prost(oneof = "request_op::Request", tags = "1, 2, 3")]
    pub request: Option<request_op::Request>,
}

/// The `oneof` of [`RequestOp`].
pub mod request_op {
    /// Which operation.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Request {
        #[prost(message, tag = "1")]
        RequestRange(super::RangeRequest),
        #[prost(message, tag = "2")]
        RequestPut(super::PutRequest),
        #[prost(message, tag = "3")]
        RequestDeleteRange(super::DeleteRangeRequest),
    }
}

/// `etcdserverpb.ResponseOp`: the answer to one [`RequestOp`].
#[derive(Clone, PartialEq, Message)]
pub struct ResponseOp {
    #[prost(oneof = "response_op::Response", tags = "1, 2, 3")]
    pub response: Option<response_op::Response>,
}

/// The `oneof` of [`ResponseOp`].
pub mod response_op {
    /// Which answer.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Response {
        #[prost(message, tag = "1")]
        ResponseRange(super::RangeResponse),
        #[prost(message, tag = "2")]
        ResponsePut(super::PutResponse),
        #[prost(message, tag = "3")]
        ResponseDeleteRange(super::DeleteRangeResponse),
    }
}

/// `etcdserverpb.Compare.CompareResult`.
pub const COMPARE_EQUAL: i32 = 0;
/// `etcdserverpb.Compare.CompareResult.GREATER`.
pub const COMPARE_GREATER: i32 = 1;
/// `etcdserverpb.Compare.CompareTarget.VERSION`.
pub const TARGET_VERSION: i32 = 0;
/// `etcdserverpb.Compare.CompareTarget.MOD`.
pub const TARGET_MOD: i32 = 2;

/// `etcdserverpb.Compare`: one guard of a transaction.
#[derive(Clone, PartialEq, Message)]
pub struct Compare {
    #[prost(int32, tag = "1")]
    pub result: i32,
    #[prost(int32, tag = "2")]
    pub target: i32,
    #[prost(bytes = "vec", tag = "3")]
    pub key: Vec<u8>,
    #[prost(oneof = "compare::TargetUnion", tags = "4, 6")]
    pub target_union: Option<compare::TargetUnion>,
}

/// The `oneof` of [`Compare`].
pub mod compare {
    /// What the key's field is compared with.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum TargetUnion {
        #[prost(int64, tag = "4")]
        Version(i64),
        #[prost(int64, tag = "6")]
        ModRevision(i64),
    }
}

/// `etcdserverpb.TxnRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct TxnRequest {
    #[prost(message, repeated, tag = "1")]
    pub compare: Vec<Compare>,
    #[prost(message, repeated, tag = "2")]
    pub success: Vec<RequestOp>,
    #[prost(message, repeated, tag = "3")]
    pub failure: Vec<RequestOp>,
}

/// `etcdserverpb.TxnResponse`.
#[derive(Clone, PartialEq, Message)]
pub struct TxnResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(bool, tag = "2")]
    pub succeeded: bool,
    #[prost(message, repeated, tag = "3")]
    pub responses: Vec<ResponseOp>,
}

/// A guard: `key`'s last modification is revision `rev` (0: the key does not exist).
pub fn mod_revision_is(key: &[u8], rev: i64) -> Compare {
    Compare {
        result: COMPARE_EQUAL,
        target: TARGET_MOD,
        key: key.to_vec(),
        target_union: Some(compare::TargetUnion::ModRevision(rev)),
    }
}

/// A guard: `key` exists.
pub fn exists(key: &[u8]) -> Compare {
    Compare {
        result: COMPARE_GREATER,
        target: TARGET_VERSION,
        key: key.to_vec(),
        target_union: Some(compare::TargetUnion::Version(0)),
    }
}

/// A guard: `key` does not exist.
pub fn absent(key: &[u8]) -> Compare {
    Compare {
        result: COMPARE_EQUAL,
        target: TARGET_VERSION,
        key: key.to_vec(),
        target_union: Some(compare::TargetUnion::Version(0)),
    }
}

/// A transaction operation writing `value` at `key`.
pub fn put(key: &[u8], value: &[u8]) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(PutRequest {
            key: key.to_vec(),
            value: value.to_vec(),
        })),
    }
}

/// A transaction operation deleting `key`.
pub fn delete(key: &[u8]) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestDeleteRange(
            DeleteRangeRequest {
                key: key.to_vec(),
                range_end: Vec::new(),
            },
        )),
    }
}

/// A transaction operation reading `key`.
pub fn get(key: &[u8]) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestRange(RangeRequest {
            key: key.to_vec(),
            range_end: Vec::new(),
        })),
    }
}

/// The end of the range of every key starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_txn_encodes_with_etcds_field_numbers() {
        let txn = TxnRequest {
            compare: vec![mod_revision_is(b"k", 7)],
            success: vec![put(b"k", b"v")],
            failure: vec![get(b"k")],
        };
        let bytes = txn.encode_to_vec();
        // compare (field 1, length-delimited) = result 0 (omitted), target MOD=2,
        // key "k", mod_revision (field 6) = 7.
        assert_eq!(
            &bytes[..10],
            &[0x0a, 0x07, 0x10, 0x02, 0x1a, 0x01, b'k', 0x30, 0x07, 0x12]
        );
        assert_eq!(TxnRequest::decode(bytes.as_slice()).unwrap(), txn);
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"a/"), b"a0".to_vec());
        assert_eq!(prefix_end(&[b'a', 0xff]), b"b".to_vec());
        assert_eq!(prefix_end(&[0xff]), vec![0]);
    }
}
