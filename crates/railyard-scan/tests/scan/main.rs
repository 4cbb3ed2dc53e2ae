//! Integration tests of railyard-scan: fixture images built through the real Docker engine
//! (labelled `io.railyard.test=scan` and this process's `io.railyard.run`, removed at the
//! end), and hand-made `docker save` archives for bad input.

mod archives;
mod binaries;
mod common;
mod fuzz;
mod images;
mod rpmdb;
mod sbom;
