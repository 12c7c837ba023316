//! What the client knows about the cluster: the nodes it has heard of, which
//! one it will try next, and whether that one is believed to be the leader.
//!
//! Shared by all clones of a [`Client`](crate::Client) behind a mutex that is
//! never held across an `.await`.

use std::time::Duration;

use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use crate::batcher::Batcher;
use crate::endpoint::{self, Address};
use crate::error::ClientError;

/// One node as the retry loop hands it to an attempt.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Canonical `host:port` of the node.
    pub addr: String,
    /// A (lazily connecting) channel to it.
    pub channel: Channel,
    /// Batches buyers' calls to it into `Submit` requests (over `channel`).
    pub batcher: Batcher,
}

/// A known node and its channel (with the batcher over it), created on first use.
struct Node {
    addr: String,
    endpoint: Endpoint,
    channel: Option<(Channel, Batcher)>,
}

/// The known nodes and the current target.
pub(crate) struct Cluster {
    nodes: Vec<Node>,
    current: usize,
    leader_known: bool,
    request_timeout: Duration,
    /// Mutual TLS to every node (`None`: plaintext). Not in `Debug`: tonic's
    /// would print the private key.
    tls: Option<ClientTlsConfig>,
}

impl std::fmt::Debug for Node {
    /// The address and whether a channel is open; not the endpoint, whose
    /// TLS settings hold the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("addr", &self.addr)
            .field("connected", &self.channel.is_some())
            .finish()
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("nodes", &self.nodes)
            .field("current", &self.current)
            .field("leader_known", &self.leader_known)
            .field("request_timeout", &self.request_timeout)
            .field("tls", &self.tls.as_ref().map(|_| "<mutual TLS>"))
            .finish()
    }
}

impl Cluster {
    /// Validates every address (duplicates are merged) and targets the
    /// first; channels speak mutual TLS when `tls` is given.
    pub(crate) fn new(
        raw: &[String],
        request_timeout: Duration,
        tls: Option<ClientTlsConfig>,
    ) -> Result<Self, ClientError> {
        if raw.is_empty() {
            return Err(ClientError::InvalidEndpoint {
                endpoint: String::new(),
                reason: "no node addresses were given".into(),
            });
        }
        let mut cluster = Cluster {
            nodes: Vec::with_capacity(raw.len()),
            current: 0,
            leader_known: false,
            request_timeout,
            tls,
        };
        for addr in raw {
            let address = endpoint::normalise(addr)?;
            cluster.index_of_or_add(&address)?;
        }
        Ok(cluster)
    }

    /// Calls with `tls` from now on: every node's endpoint is rebuilt and
    /// its channel dropped, so the next call dials afresh with it (calls in
    /// flight finish on their connection). Nothing changes on an error.
    pub(crate) fn set_tls(&mut self, tls: Option<ClientTlsConfig>) -> Result<(), ClientError> {
        let mut endpoints = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let address = endpoint::normalise(&node.addr)?;
            endpoints.push(endpoint::endpoint(
                &address,
                self.request_timeout,
                tls.as_ref(),
            )?);
        }
        for (node, endpoint) in self.nodes.iter_mut().zip(endpoints) {
            node.endpoint = endpoint;
            node.channel = None;
        }
        self.tls = tls;
        Ok(())
    }

    /// The TLS settings calls use now.
    pub(crate) fn tls(&self) -> Option<ClientTlsConfig> {
        self.tls.clone()
    }

    /// The node the next attempt should go to. Needs a tokio runtime: the
    /// channel is created here on first use.
    pub(crate) fn current_target(&mut self) -> Target {
        let index = self.current;
        self.target_at(index)
    }

    /// Every known address, in the order they were learnt.
    pub(crate) fn addrs(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.addr.clone()).collect()
    }

    /// How many nodes are known.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// A target for `addr`, known or not. An unknown address gets a one-off
    /// channel and is not learnt: a mistyped address must not join the
    /// failover rotation.
    pub(crate) fn target_for(&mut self, addr: &str) -> Result<Target, ClientError> {
        let address = endpoint::normalise(addr)?;
        if let Some(index) = self.position(&address.addr) {
            return Ok(self.target_at(index));
        }
        let endpoint = endpoint::endpoint(&address, self.request_timeout, self.tls.as_ref())?;
        let channel = endpoint.connect_lazy();
        Ok(Target {
            addr: address.addr,
            batcher: Batcher::new(channel.clone(), self.request_timeout),
            channel,
        })
    }

    /// Drops the channel to `addr` so the next call dials afresh (after a
    /// timeout the connection may be stuck on a partitioned node).
    pub(crate) fn reset_channel(&mut self, addr: &str) {
        if let Some(index) = self.position(addr) {
            self.nodes[index].channel = None;
        }
    }

    /// The address believed to be the leader, if any.
    pub(crate) fn leader(&self) -> Option<String> {
        self.leader_known
            .then(|| self.nodes[self.current].addr.clone())
    }

    /// `addr` just answered as leader: keep using it.
    pub(crate) fn confirm_leader(&mut self, addr: &str) {
        if let Some(index) = self.position(addr) {
            self.current = index;
            self.leader_known = true;
        }
    }

    /// A node said the leader is at `leader_addr`: target it next. Returns
    /// false when the hint is unusable (invalid, or the answering node itself).
    pub(crate) fn follow_hint(&mut self, from: &str, leader_addr: &str) -> bool {
        if leader_addr == from {
            return false;
        }
        let Ok(address) = endpoint::normalise(leader_addr) else {
            return false;
        };
        match self.index_of_or_add(&address) {
            Ok(index) => {
                self.current = index;
                self.leader_known = true;
                true
            }
            Err(_) => false,
        }
    }

    /// `addr` failed: move on to the node after it, round-robin, dropping its
    /// channel if `reset_channel`. Does not move the target if another caller
    /// has already moved on from `addr`.
    pub(crate) fn skip(&mut self, addr: &str, reset_channel: bool) {
        if reset_channel {
            self.reset_channel(addr);
        }
        let Some(index) = self.position(addr) else {
            return;
        };
        if self.current == index {
            self.current = (index + 1) % self.nodes.len();
            self.leader_known = false;
        }
    }

    /// Adds `addr` to the rotation; false if invalid or already known.
    pub(crate) fn learn(&mut self, addr: &str) -> bool {
        let Ok(address) = endpoint::normalise(addr) else {
            return false;
        };
        if self.position(&address.addr).is_some() {
            return false;
        }
        self.index_of_or_add(&address).is_ok()
    }

    fn position(&self, addr: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.addr == addr)
    }

    fn index_of_or_add(&mut self, address: &Address) -> Result<usize, ClientError> {
        if let Some(index) = self.position(&address.addr) {
            return Ok(index);
        }
        let endpoint = endpoint::endpoint(address, self.request_timeout, self.tls.as_ref())?;
        self.nodes.push(Node {
            addr: address.addr.clone(),
            endpoint,
            channel: None,
        });
        Ok(self.nodes.len() - 1)
    }

    fn target_at(&mut self, index: usize) -> Target {
        let timeout = self.request_timeout;
        let node = &mut self.nodes[index];
        let (channel, batcher) = node
            .channel
            .get_or_insert_with(|| {
                let channel = node.endpoint.connect_lazy();
                (channel.clone(), Batcher::new(channel, timeout))
            })
            .clone();
        Target {
            addr: node.addr.clone(),
            channel,
            batcher,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(addrs: &[&str]) -> Cluster {
        let raw: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
        Cluster::new(&raw, Duration::from_secs(2), None).unwrap()
    }

    #[test]
    fn empty_list_is_an_invalid_endpoint() {
        assert!(matches!(
            Cluster::new(&[], Duration::from_secs(2), None),
            Err(ClientError::InvalidEndpoint { .. })
        ));
    }

    #[test]
    fn one_bad_address_rejects_the_list() {
        let raw = vec!["127.0.0.1:7101".to_string(), "nope".to_string()];
        match Cluster::new(&raw, Duration::from_secs(2), None) {
            Err(ClientError::InvalidEndpoint { endpoint, .. }) => assert_eq!(endpoint, "nope"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn duplicates_are_merged() {
        let c = cluster(&["127.0.0.1:7101", "http://127.0.0.1:7101", "127.0.0.1:7102"]);
        assert_eq!(c.addrs(), vec!["127.0.0.1:7101", "127.0.0.1:7102"]);
    }

    #[test]
    fn no_leader_is_known_at_first() {
        assert_eq!(cluster(&["127.0.0.1:7101"]).leader(), None);
    }

    #[test]
    fn skip_moves_round_robin_and_forgets_the_leader() {
        let mut c = cluster(&["a:1", "b:2", "c:3"]);
        c.confirm_leader("a:1");
        assert_eq!(c.leader().as_deref(), Some("a:1"));
        c.skip("a:1", false);
        assert_eq!(c.leader(), None);
        assert_eq!(c.nodes[c.current].addr, "b:2");
        c.skip("b:2", false);
        c.skip("c:3", false);
        assert_eq!(c.nodes[c.current].addr, "a:1");
    }

    #[test]
    fn skip_of_a_node_already_left_behind_does_not_move_the_target() {
        let mut c = cluster(&["a:1", "b:2", "c:3"]);
        c.skip("a:1", false);
        c.skip("a:1", false);
        assert_eq!(c.nodes[c.current].addr, "b:2");
    }

    #[test]
    fn a_hint_to_a_new_address_is_learnt() {
        let mut c = cluster(&["a:1", "b:2"]);
        assert!(c.follow_hint("a:1", "c:3"));
        assert_eq!(c.addrs(), vec!["a:1", "b:2", "c:3"]);
        assert_eq!(c.leader().as_deref(), Some("c:3"));
    }

    #[test]
    fn a_hint_to_itself_or_garbage_is_ignored() {
        let mut c = cluster(&["a:1", "b:2"]);
        assert!(!c.follow_hint("a:1", "a:1"));
        assert!(!c.follow_hint("a:1", "garbage"));
        assert_eq!(c.leader(), None);
        assert_eq!(c.addrs().len(), 2);
    }
}
