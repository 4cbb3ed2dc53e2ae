//! The bodies of the REST API: they live in `railyard_types::protocol`, so the agent and the
//! CLI need not depend on the server.

pub use railyard_types::protocol::*;
