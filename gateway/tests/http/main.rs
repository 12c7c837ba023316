//! HTTP-level tests of the gateway against a real in-process cluster: every
//! endpoint's success and error answers, sessions, 2FA, rate limits, the
//! proof of work, SSE, and failover with two gateways.

mod account;
mod failover;
mod grafana;
mod harness;
mod ids;
mod pages;
mod sale;
mod slowloris;
mod waitroom;
mod webhook;
