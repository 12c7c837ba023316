//! `ingressoja-faultfs`: the disk under a chaos node, made to fail.
//!
//! A FUSE pass-through over a backing directory that keeps, for every file,
//! what it would lose in a power cut (everything written since its last
//! fsync) and can be told, over a control socket, to lose it, to be full,
//! or to fail or slow down its fsyncs. `kill -9` alone keeps the page
//! cache, so it never tests whether a node syncs what it acknowledges; a
//! power cut on this layer does.
//!
//! - [`unsynced`]: what one file loses in a power cut;
//! - [`inodes`]: inode numbers for backing paths;
//! - [`disk`]: the state behind the mount and the power cut itself;
//! - [`faults`]: the switchable faults and the control commands;
//! - [`fs`]: the FUSE calls;
//! - [`control`]: the control socket.

pub mod control;
pub mod disk;
pub mod faults;
pub mod fs;
pub mod inodes;
pub mod unsynced;
