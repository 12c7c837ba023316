//! Rate limits (per IP and per customer, separately for login, queue join
//! and purchase) and the global concurrency limit that sheds load.
//!
//! Limits are per gateway process: N gateways let N times the rate through
//! in total, which is why the per-CPF rules that matter for fairness live
//! in the replicated state and these only keep floods off the cluster.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ingressoja_cluster_config::{RateLimit, RateLimits};
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::metrics::Labels;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// Which guarded path a request is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarded {
    /// Password and code checks.
    Login,
    /// Joining a virtual queue.
    QueueJoin,
    /// Holding and paying.
    Purchase,
    /// Giving a hold back: as much budget as purchases, but its own, so a
    /// buyer who spent hers on hold attempts can still free the tickets.
    Release,
}

/// One keyed limiter with its human name for the error message.
struct Limiter {
    name: &'static str,
    inner: DefaultKeyedRateLimiter<String>,
}

impl Limiter {
    fn new(name: &'static str, limit: &RateLimit) -> Limiter {
        let per_minute = NonZeroU32::new(limit.per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
        Limiter {
            name,
            inner: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
        }
    }

    fn check(&self, key: &str, refused: &Family<Labels, Counter>) -> Result<(), ApiError> {
        self.inner.check_key(&key.to_string()).map_err(|not_until| {
            refused
                .get_or_create(&vec![("limit".into(), self.name.into())])
                .inc();
            ApiError::RateLimited {
                limit: self.name,
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            }
        })
    }
}

/// All the gateway's rate limiters.
pub struct RateLimiters {
    login_ip: Limiter,
    login_customer: Limiter,
    queue_ip: Limiter,
    queue_customer: Limiter,
    purchase_ip: Limiter,
    purchase_customer: Limiter,
    release_ip: Limiter,
    release_customer: Limiter,
    any_ip: Limiter,
    refused: Family<Labels, Counter>,
}

impl RateLimiters {
    /// Limiters as configured; refusals are counted in `refused` by limit.
    pub fn new(config: &RateLimits, refused: Family<Labels, Counter>) -> RateLimiters {
        let limiters = RateLimiters {
            login_ip: Limiter::new("login per IP", &config.login_per_ip),
            login_customer: Limiter::new("login per account", &config.login_per_customer),
            queue_ip: Limiter::new("queue join per IP", &config.queue_join_per_ip),
            queue_customer: Limiter::new(
                "queue join per customer",
                &config.queue_join_per_customer,
            ),
            purchase_ip: Limiter::new("purchase per IP", &config.purchase_per_ip),
            purchase_customer: Limiter::new("purchase per customer", &config.purchase_per_customer),
            release_ip: Limiter::new("release per IP", &config.purchase_per_ip),
            release_customer: Limiter::new("release per customer", &config.purchase_per_customer),
            any_ip: Limiter::new("requests per IP", &config.api_per_ip),
            refused,
        };
        // Every series exists from the start, at zero, so rates work at once.
        for limiter in limiters.all() {
            drop(
                limiters
                    .refused
                    .get_or_create(&vec![("limit".into(), limiter.name.into())]),
            );
        }
        limiters
    }

    /// Counts one request on `path` from `ip` for `customer` (a login name
    /// for logins), failing with 429 material when over either limit.
    pub fn check(&self, path: Guarded, ip: IpAddr, customer: &str) -> Result<(), ApiError> {
        let (by_ip, by_customer) = match path {
            Guarded::Login => (&self.login_ip, &self.login_customer),
            Guarded::QueueJoin => (&self.queue_ip, &self.queue_customer),
            Guarded::Purchase => (&self.purchase_ip, &self.purchase_customer),
            Guarded::Release => (&self.release_ip, &self.release_customer),
        };
        by_ip.check(&ip_bucket(ip), &self.refused)?;
        // The exact id: ids are case-sensitive, so "ANA" is another account
        // (or none), and trying it must not spend ana's budget.
        by_customer.check(customer, &self.refused)
    }

    /// Counts one request of any kind from `ip`.
    pub fn check_any(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.any_ip.check(&ip_bucket(ip), &self.refused)
    }

    fn all(&self) -> [&Limiter; 9] {
        [
            &self.login_ip,
            &self.login_customer,
            &self.queue_ip,
            &self.queue_customer,
            &self.purchase_ip,
            &self.purchase_customer,
            &self.release_ip,
            &self.release_customer,
            &self.any_ip,
        ]
    }

    /// Forgets keys whose limits have fully recovered, so memory stays
    /// bounded by the recently active IPs and customers.
    pub fn forget_idle(&self) {
        for limiter in self.all() {
            limiter.inner.retain_recent();
            limiter.inner.shrink_to_fit();
        }
    }
}

/// Runs [`RateLimiters::forget_idle`] every minute for the life of the process.
pub fn spawn_housekeeping(limiters: Arc<RateLimiters>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            limiters.forget_idle();
        }
    });
}

/// Middleware: at most `max_in_flight` requests are served at once; the
/// next ones get 503 with `Retry-After` at once instead of queueing, so
/// latency stays bounded under a flood. Long-lived streams (SSE) release
/// their permit when the stream starts.
pub async fn shed_load(
    State((in_flight, shed)): State<(Arc<Semaphore>, Counter)>,
    request: Request,
    next: Next,
) -> Response {
    match in_flight.try_acquire_owned() {
        Ok(_permit) => next.run(request).await,
        Err(_) => {
            shed.inc();
            ApiError::Overloaded.into_response()
        }
    }
}

/// The per-IP bucket of `ip`: the address itself for IPv4, its /64 for
/// IPv6, since one home or phone gets a whole /64 and could otherwise
/// take a fresh address (and a fresh budget) per request.
pub(crate) fn ip_bucket(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_minute: u32, burst: u32) -> RateLimits {
        let limit = RateLimit { per_minute, burst };
        RateLimits {
            login_per_ip: limit,
            login_per_customer: limit,
            queue_join_per_ip: limit,
            queue_join_per_customer: limit,
            purchase_per_ip: limit,
            purchase_per_customer: limit,
            api_per_ip: limit,
        }
    }

    #[test]
    fn a_burst_passes_then_429_with_a_wait() {
        let limiters = RateLimiters::new(&limits(60, 3), Family::default());
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            limiters.check(Guarded::Login, ip, "ana").unwrap();
        }
        let Err(ApiError::RateLimited { limit, retry_after }) =
            limiters.check(Guarded::Login, ip, "ana")
        else {
            panic!("expected a rate limit");
        };
        assert_eq!(limit, "login per IP");
        assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(1));
        // Another path has its own budget.
        limiters.check(Guarded::Purchase, ip, "ana").unwrap();
    }

    #[test]
    fn the_customer_limit_holds_across_ips() {
        let limiters = RateLimiters::new(&limits(60, 2), Family::default());
        limiters
            .check(Guarded::QueueJoin, "10.0.0.1".parse().unwrap(), "ana")
            .unwrap();
        limiters
            .check(Guarded::QueueJoin, "10.0.0.2".parse().unwrap(), "ana")
            .unwrap();
        let refused = limiters.check(Guarded::QueueJoin, "10.0.0.3".parse().unwrap(), "ana");
        assert!(matches!(
            refused,
            Err(ApiError::RateLimited {
                limit: "queue join per customer",
                ..
            })
        ));
    }

    #[test]
    fn another_spelling_of_an_id_does_not_spend_its_budget() {
        // Ids are case-sensitive: a stranger hammering "ANA" and "Ana" is
        // trying other accounts, and must not use up ana's logins.
        let limiters = RateLimiters::new(&limits(60, 2), Family::default());
        for (n, id) in ["ANA", "ANA", "Ana", "Ana"].iter().enumerate() {
            let ip: IpAddr = format!("10.0.1.{n}").parse().unwrap();
            limiters.check(Guarded::Login, ip, id).unwrap();
        }
        limiters
            .check(Guarded::Login, "10.0.2.1".parse().unwrap(), "ana")
            .expect("ana's own budget is untouched");
    }

    #[test]
    fn one_ipv6_network_is_one_client_and_a_mapped_ipv4_is_its_ipv4() {
        let limiters = RateLimiters::new(&limits(60, 2), Family::default());
        for n in 1..=2 {
            let ip: IpAddr = format!("2001:db8:1:2::{n}").parse().unwrap();
            limiters.check_any(ip).unwrap();
        }
        let next_address: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert!(limiters.check_any(next_address).is_err());
        limiters
            .check_any("2001:db8:1:3::1".parse().unwrap())
            .unwrap();
        limiters.check_any("198.51.100.7".parse().unwrap()).unwrap();
        limiters.check_any("198.51.100.7".parse().unwrap()).unwrap();
        assert!(limiters
            .check_any("::ffff:198.51.100.7".parse().unwrap())
            .is_err());
    }

    async fn status_with_permits(permits: usize) -> (u16, Option<String>) {
        use axum::routing::get;
        use tower::ServiceExt;
        let in_flight = Arc::new(Semaphore::new(permits));
        let shed = Counter::default();
        let app = axum::Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(
                (in_flight, shed.clone()),
                shed_load,
            ));
        let response = app
            .oneshot(axum::http::Request::new(axum::body::Body::empty()))
            .await
            .unwrap();
        let retry = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(shed.get(), u64::from(permits == 0));
        (response.status().as_u16(), retry)
    }

    #[tokio::test]
    async fn at_the_concurrency_limit_requests_are_shed_with_503() {
        assert_eq!(status_with_permits(1).await, (200, None));
        assert_eq!(status_with_permits(0).await, (503, Some("1".into())));
    }
}
