//! `leader-deaf` and `leader-mute`: one-way partitions of the leader.
//!
//! - **deaf**: the leader hears nothing from the other members, but they
//!   still hear it. Its heartbeats keep them from electing anyone, while it
//!   never learns that an entry was stored: nothing commits until the fault
//!   heals, and every write on it must end `unavailable`, not hang.
//! - **mute**: the other members hear nothing from the leader, but it hears
//!   them. They elect a new leader; the old one keeps receiving their votes
//!   and entries of a newer term and must step down, its own writes in
//!   flight answered `unavailable`.
//!
//! A link that works one way only is what a half-failed switch port or a
//! wrong firewall rule gives; symmetric partitions never show it.

use super::{net, Applied, Fault, FaultFuture, FaultTarget, NemesisKind};

/// Which way the leader's links stop working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Packets to the leader are dropped.
    Deaf,
    /// Packets from the leader are dropped.
    Mute,
}

/// Cuts the leader's links to the other members one way.
#[derive(Debug)]
pub struct OneWay {
    direction: Direction,
}

impl OneWay {
    /// `leader-deaf`: the leader hears no one.
    pub fn deaf() -> OneWay {
        OneWay {
            direction: Direction::Deaf,
        }
    }

    /// `leader-mute`: no one hears the leader.
    pub fn mute() -> OneWay {
        OneWay {
            direction: Direction::Mute,
        }
    }
}

impl Fault for OneWay {
    fn kind(&self) -> NemesisKind {
        match self.direction {
            Direction::Deaf => NemesisKind::LeaderDeaf,
            Direction::Mute => NemesisKind::LeaderMute,
        }
    }

    fn start<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, Applied> {
        Box::pin(async move {
            let leader = target.leader_or_random().await;
            let rest: Vec<u64> = target
                .members()
                .into_iter()
                .filter(|&m| m != leader)
                .collect();
            let (chain, flag, what) = match self.direction {
                Direction::Deaf => ("INPUT", "-s", "hears nothing from"),
                Direction::Mute => ("OUTPUT", "-d", "is not heard by"),
            };
            net::drop_one_way(target, leader, &rest, chain, flag).await?;
            Ok(Applied::new(format!("leader n{leader} {what} {rest:?}")))
        })
    }

    fn heal<'a>(&'a mut self, target: &'a mut FaultTarget<'_>) -> FaultFuture<'a, ()> {
        Box::pin(net::heal(target.cluster))
    }
}
