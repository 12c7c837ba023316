//! The Jepsen-style chaos harness and checkers for IngressoJá.
//!
//! Not built yet: issue 6 brings the harness (clusters in containers,
//! nemeses, recorded histories) and issue 7 the flash-sale load generator.
//! This crate exists now so the workspace has the layout of DESIGN.md; it
//! deliberately contains no code that pretends to test anything.
