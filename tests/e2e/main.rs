//! End-to-end tests: the whole system on free ports (see `cinema_tests::Stack`).
//!
//! One test binary; one module per topic.

mod auth;
mod bad_input;
mod booking;
mod chaos;
mod chart;
mod client;
mod cluster;
mod fuzz;
mod gateway;
mod grpcurl;
mod harness;
mod journey;
mod observe;
mod operator;
mod overload;
mod replicas;
mod saga;
mod sdk;
mod seat_map;
mod web;
