//! Tests against the real Docker engine. Each test labels what it creates with its own
//! `io.railyard.run` value and checks that nothing with it is left at the end.

mod archive;
mod build;
mod common;
mod connect;
mod containers;
mod exec;
mod labelled;
mod push;
