//! The inventory's data types: plain serde structs with no IO, defined in
//! [`railyard_types::inventory`] because an agent sends them to the server.

pub use railyard_types::inventory::{
    Distro, Ecosystem, ImageInventory, LayerInfo, LayerRef, Package, ScanStats,
};
