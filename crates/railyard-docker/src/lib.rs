//! The Docker Engine API layer.
