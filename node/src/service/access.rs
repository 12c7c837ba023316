//! Who may call what: the rule for every RPC a node serves, checked against
//! the role in the caller's certificate before the call reaches a service.
//!
//! The TLS handshake has already proven the caller holds a certificate of
//! the cluster's CA; this layer reads the identity out of it
//! ([`ingressoja_pki::Identity`]), looks the RPC's path up in [`rule_of`]
//! and refuses with `permission_denied` naming the role the call needs. An
//! RPC missing from the table is refused: a new RPC is closed until it is
//! given a rule. The verified [`Caller`] rides on in the request's
//! extensions, so a service can check what only it can (a Raft message's
//! claimed sender, the calls inside a `Submit`).

use std::sync::Arc;
use std::task::{Context, Poll};

use ingressoja_pki::{Identity, Role};

use crate::listener::PeerIdentity;
use tonic::codegen::http;
use tonic::Status;

/// Which roles a kind of RPC is open to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Raft's own messages: nodes only.
    Raft,
    /// The sale's calls (holds, purchases, queue, events, registration):
    /// the gateways, and operators' tools (CLI, benchmark, chaos harness).
    Ticketing,
    /// Making an event: the organiser's, through an operator's tools; no
    /// gateway needs it, so a stolen gateway key cannot put one on sale.
    Organise,
    /// Password hashes, TOTP secrets, login records: the gateways only.
    Credentials,
    /// Membership, snapshots, backups, exports, the audit: operators only.
    Admin,
    /// A node's status (role, leader, applied index): any member.
    Status,
}

impl Rule {
    /// The roles allowed.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Rule::Raft => &[Role::Node],
            Rule::Ticketing => &[Role::Gateway, Role::Operator],
            Rule::Organise => &[Role::Operator],
            Rule::Credentials => &[Role::Gateway],
            Rule::Admin => &[Role::Operator],
            Rule::Status => &[Role::Node, Role::Gateway, Role::Operator],
        }
    }

    /// Whether `role` may make calls under this rule.
    pub fn allows(self, role: Role) -> bool {
        self.roles().contains(&role)
    }

    fn needed(self) -> String {
        let names: Vec<&str> = self.roles().iter().map(|r| r.as_str()).collect();
        names.join(" or ")
    }
}

const RAFT: &str = "/ingressoja.raft.v1.RaftTransport/";
const TICKETING: &str = "/ingressoja.ticketing.v1.Ticketing/";
const ADMIN: &str = "/ingressoja.admin.v1.Admin/";

/// The rule of the RPC at `path` (`/package.Service/Method`); `None` for a
/// path no rule names, which is refused.
pub fn rule_of(path: &str) -> Option<Rule> {
    if let Some(method) = path.strip_prefix(RAFT) {
        return matches!(method, "AppendEntries" | "Vote" | "InstallSnapshot")
            .then_some(Rule::Raft);
    }
    if let Some(method) = path.strip_prefix(TICKETING) {
        return match method {
            "CreateEvent" => Some(Rule::Organise),
            "PlaceHold" | "ReleaseHold" | "Purchase" | "Availability" | "ListEvents"
            | "GetHold" | "ListTickets" | "Register" | "JoinQueue" | "GetQueueStatus"
            | "WatchEvents" | "Submit" => Some(Rule::Ticketing),
            "GetCredentials" | "EnrolTotp" | "RecordLogin" => Some(Rule::Credentials),
            _ => None,
        };
    }
    if let Some(method) = path.strip_prefix(ADMIN) {
        return match method {
            "Status" => Some(Rule::Status),
            "AddLearner" | "ChangeMembership" | "TriggerSnapshot" | "ExportAudit" | "Backup"
            | "ExportSale" => Some(Rule::Admin),
            _ => None,
        };
    }
    None
}

/// Who made a call, as the access layer established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A certificate of this cluster's CA naming this identity.
    Verified(Identity),
    /// Nobody checked: the node runs with `insecure_dev`.
    Unchecked,
    /// The request never went through the access layer (a service served
    /// without it): refused, so a service added without the layer fails
    /// closed rather than open.
    Unknown,
}

impl Caller {
    /// The caller of a request as the access layer established it;
    /// [`Caller::Unknown`] (refused) if it did not go through the layer.
    pub fn of<T>(request: &tonic::Request<T>) -> Caller {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .unwrap_or(Caller::Unknown)
    }

    /// Whether the caller may make calls under `rule`; the refusal names
    /// the roles needed and who the caller is.
    pub fn check(&self, rule: Rule, what: &str) -> Result<(), Status> {
        match self {
            Caller::Unchecked => Ok(()),
            Caller::Unknown => Err(Status::permission_denied(format!(
                "{what}: the caller was never checked (served without the access layer)"
            ))),
            Caller::Verified(identity) if rule.allows(identity.role()) => Ok(()),
            Caller::Verified(identity) => Err(Status::permission_denied(format!(
                "{what} needs the {} role; the caller is {identity} ({} role)",
                rule.needed(),
                identity.role()
            ))),
        }
    }
}

/// How a node checks its callers.
#[derive(Debug, Clone)]
pub enum AccessPolicy {
    /// Mutual TLS: callers are identified by certificate, of this cluster.
    Certificates {
        /// The node's cluster: a certificate of another is refused.
        cluster: String,
    },
    /// `insecure_dev`: no TLS, every call allowed.
    Open,
}

impl AccessPolicy {
    /// The caller of `request` if it may make the call, or the refusal.
    fn admit<B>(&self, request: &http::Request<B>) -> Result<Caller, Status> {
        let cluster = match self {
            AccessPolicy::Open => return Ok(Caller::Unchecked),
            AccessPolicy::Certificates { cluster } => cluster,
        };
        let path = request.uri().path();
        let rule = rule_of(path).ok_or_else(|| {
            Status::permission_denied(format!("{path}: no access rule names this call"))
        })?;
        let peer = request
            .extensions()
            .get::<PeerIdentity>()
            .ok_or_else(|| Status::unauthenticated(format!("{path} needs a client certificate")))?;
        let identity = match peer.0.as_ref() {
            Ok(identity) => identity.clone(),
            Err(e) => {
                return Err(Status::permission_denied(format!(
                    "{path}: the client certificate is refused: {e}"
                )))
            }
        };
        if identity.cluster() != cluster {
            return Err(Status::permission_denied(format!(
                "{path}: the caller {identity} is not of cluster {cluster}"
            )));
        }
        let caller = Caller::Verified(identity);
        caller.check(rule, path)?;
        Ok(caller)
    }
}

/// The tower layer that puts [`AccessPolicy`] in front of every service.
#[derive(Debug, Clone)]
pub struct AccessLayer {
    policy: Arc<AccessPolicy>,
}

impl AccessLayer {
    /// Checks every call under `policy`.
    pub fn new(policy: AccessPolicy) -> Self {
        AccessLayer {
            policy: Arc::new(policy),
        }
    }
}

impl<S> tower_layer::Layer<S> for AccessLayer {
    type Service = Access<S>;

    fn layer(&self, inner: S) -> Access<S> {
        Access {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// A service behind the access check.
#[derive(Debug, Clone)]
pub struct Access<S> {
    inner: S,
    policy: Arc<AccessPolicy>,
}

impl<S, B, ResBody> tower_service::Service<http::Request<B>> for Access<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Default + Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = futures::future::Either<
        S::Future,
        futures::future::Ready<Result<http::Response<ResBody>, S::Error>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        match self.policy.admit(&request) {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                futures::future::Either::Left(self.inner.call(request))
            }
            Err(status) => {
                tracing::info!(path = request.uri().path(), %status, "call refused");
                futures::future::Either::Right(futures::future::ready(Ok(status.into_http())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rpc_of_the_protocol_has_a_rule() {
        let rpcs = ingressoja_proto::rpcs::RPCS;
        assert!(rpcs.len() >= 26, "{rpcs:?}");
        for rpc in rpcs {
            assert!(
                rule_of(rpc.path).is_some(),
                "{} has no access rule",
                rpc.path
            );
        }
        assert_eq!(rule_of("/ingressoja.admin.v1.Admin/DropEverything"), None);
        assert_eq!(rule_of("/grpc.health.v1.Health/Check"), None);
    }

    #[test]
    fn the_rules_follow_the_roles() {
        let rule = |m: &str| rule_of(m).unwrap();
        assert_eq!(rule("/ingressoja.raft.v1.RaftTransport/Vote"), Rule::Raft);
        assert_eq!(
            rule("/ingressoja.ticketing.v1.Ticketing/GetCredentials"),
            Rule::Credentials
        );
        assert_eq!(
            rule("/ingressoja.ticketing.v1.Ticketing/Submit"),
            Rule::Ticketing
        );
        assert_eq!(rule("/ingressoja.admin.v1.Admin/Backup"), Rule::Admin);
        assert!(!Rule::Credentials.allows(Role::Operator));
        assert!(!Rule::Admin.allows(Role::Gateway));
        assert!(!Rule::Raft.allows(Role::Operator));
        assert!(!Rule::Ticketing.allows(Role::Node));
    }

    #[test]
    fn a_refusal_names_the_role_needed() {
        let gateway = Identity::new("c", Role::Gateway, "gw").unwrap();
        let refused = Caller::Verified(gateway)
            .check(Rule::Admin, "/ingressoja.admin.v1.Admin/Backup")
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        assert!(
            refused.message().contains("needs the operator role"),
            "{}",
            refused.message()
        );
        assert!(Caller::Unchecked.check(Rule::Raft, "x").is_ok());
        // A request that skipped the layer is refused, not waved through.
        let unlayered = Caller::of(&tonic::Request::new(()));
        assert_eq!(unlayered, Caller::Unknown);
        assert_eq!(
            unlayered.check(Rule::Ticketing, "x").unwrap_err().code(),
            tonic::Code::PermissionDenied
        );
    }
}
