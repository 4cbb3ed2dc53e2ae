//! Image inventory: which packages an image holds, in which layer, put there by which
//! Dockerfile instruction.
//!
//! [`scan_image`] exports a local image through the Engine API and reads the `docker save`
//! stream once: each layer tar passes through [`layer::read_layer`], which hands the few files
//! catalogers want (dpkg status, apk installed, rpmdb, Python metadata, npm `package.json`,
//! os-release) to [`catalog`] and scans executables for Go build info and cargo-auditable
//! data, keeping no file tree in memory. Each layer yields a [`LayerScan`] that does not
//! depend on the layers below it, so it is cached by diff ID ([`LayerCache`]); [`merge`]
//! stacks the scans (whiteouts, opaque folders) and credits each package to the layer that
//! starts its last unbroken run of presence. [`sbom`] writes CycloneDX 1.5 and SPDX 2.3.
#![warn(missing_docs)]

mod archive;
pub mod cache;
pub mod catalog;
mod errors;
mod image;
pub mod layer;
pub mod merge;
pub mod package;
pub mod purl;
pub mod sbom;

pub use archive::clean_instruction;
pub use cache::{CACHE_FORMAT, CacheError, LayerCache, MemoryCache, NoCache};
pub use errors::ScanError;
pub use image::{scan_archive, scan_image};
pub use layer::LayerScan;
pub use package::{Distro, Ecosystem, ImageInventory, LayerInfo, LayerRef, Package, ScanStats};
