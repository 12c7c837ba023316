//! How many notification streams one customer and one address may hold
//! open on this gateway at once.
//!
//! A stream costs the gateway a task, a mailbox and a socket for as long as
//! it stays open: a bot that opens thousands (one account, or one address)
//! could fill the gateway the waiting room needs. Each open stream holds a
//! [`StreamPermit`]; the count drops when the stream closes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::ApiError;
use crate::limits::ip_bucket;

/// What a refused stream is told to wait.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// The open streams, by customer and by address.
#[derive(Debug)]
pub struct StreamCaps {
    per_customer: usize,
    per_ip: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// One open stream's place under the caps; given back on drop.
#[derive(Debug)]
pub struct StreamPermit {
    keys: [String; 2],
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl StreamCaps {
    /// At most `per_customer` streams per customer and `per_ip` per address.
    pub fn new(per_customer: usize, per_ip: usize) -> StreamCaps {
        StreamCaps {
            per_customer,
            per_ip,
            open: Arc::default(),
        }
    }

    /// A permit for one more stream of `customer_id` from `ip`, or 429.
    pub fn open(&self, customer_id: &str, ip: IpAddr) -> Result<StreamPermit, ApiError> {
        let keys = [format!("c:{customer_id}"), format!("i:{}", ip_bucket(ip))];
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = |key: &String| open.get(key).copied().unwrap_or(0);
        if count(&keys[0]) >= self.per_customer {
            return Err(ApiError::RateLimited {
                limit: "open notification streams per customer",
                retry_after: RETRY_AFTER,
            });
        }
        if count(&keys[1]) >= self.per_ip {
            return Err(ApiError::RateLimited {
                limit: "open notification streams per address",
                retry_after: RETRY_AFTER,
            });
        }
        for key in &keys {
            *open.entry(key.clone()).or_default() += 1;
        }
        drop(open);
        Ok(StreamPermit {
            keys,
            open: self.open.clone(),
        })
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        for key in &self.keys {
            if let Some(count) = open.get_mut(key) {
                *count -= 1;
                if *count == 0 {
                    open.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_capped_per_customer_and_per_address_and_given_back() {
        let caps = StreamCaps::new(2, 3);
        let home: IpAddr = "198.51.100.7".parse().unwrap();
        let a = caps.open("ana", home).unwrap();
        let _b = caps.open("ana", home).unwrap();
        assert!(matches!(
            caps.open("ana", "203.0.113.1".parse().unwrap()),
            Err(ApiError::RateLimited {
                limit: "open notification streams per customer",
                ..
            })
        ));
        let _c = caps.open("bia", home).unwrap();
        assert!(matches!(
            caps.open("caio", home),
            Err(ApiError::RateLimited {
                limit: "open notification streams per address",
                ..
            })
        ));
        drop(a);
        caps.open("ana", "203.0.113.1".parse().unwrap()).unwrap();
        assert!(caps.open("caio", home).is_ok());
        assert!(caps.open.lock().unwrap().len() <= 5);
    }
}
