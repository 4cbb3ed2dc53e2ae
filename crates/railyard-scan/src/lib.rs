//! Image inventory: which packages an image holds, in which layer, put there by which
//! Dockerfile instruction.
#![warn(missing_docs)]

pub mod package;

pub use package::{Distro, Ecosystem, ImageInventory, LayerInfo, LayerRef, Package};
