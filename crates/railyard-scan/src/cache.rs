//! The layer cache: scan results kept per layer diff ID, so an unchanged layer is never read
//! twice and images sharing a base read it once. The store implements it on SQLite or
//! PostgreSQL; [`MemoryCache`] serves one process.

use crate::layer::LayerScan;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;

/// Version of [`LayerScan`]'s meaning: bump it when catalogers change what they find, so
/// stored results from older catalogers are not reused. Implementations key entries by it.
pub const CACHE_FORMAT: u32 = 3;

/// Errors a cache implementation reports; the scan turns them into
/// [`crate::ScanError::Cache`].
pub type CacheError = Box<dyn std::error::Error + Send + Sync>;

/// Where layer scans (and image configs, so a fully cached image needs no export) are kept.
/// Entries are immutable: a diff ID or image ID names content.
#[async_trait]
pub trait LayerCache: Send + Sync {
    /// The scan of the layer with this diff ID, if kept.
    async fn get_layer(&self, diff_id: &str) -> Result<Option<LayerScan>, CacheError>;
    /// Keeps a complete layer scan.
    async fn put_layer(&self, diff_id: &str, scan: &LayerScan) -> Result<(), CacheError>;
    /// The config JSON of the image with this ID, if kept.
    async fn get_config(&self, image_id: &str) -> Result<Option<Vec<u8>>, CacheError>;
    /// Keeps an image config JSON.
    async fn put_config(&self, image_id: &str, config: &[u8]) -> Result<(), CacheError>;
}

/// A cache that keeps nothing: every scan reads every layer.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCache;

#[async_trait]
impl LayerCache for NoCache {
    async fn get_layer(&self, _: &str) -> Result<Option<LayerScan>, CacheError> {
        Ok(None)
    }
    async fn put_layer(&self, _: &str, _: &LayerScan) -> Result<(), CacheError> {
        Ok(())
    }
    async fn get_config(&self, _: &str) -> Result<Option<Vec<u8>>, CacheError> {
        Ok(None)
    }
    async fn put_config(&self, _: &str, _: &[u8]) -> Result<(), CacheError> {
        Ok(())
    }
}

/// An in-process cache.
#[derive(Debug, Default)]
pub struct MemoryCache {
    layers: Mutex<HashMap<String, LayerScan>>,
    configs: Mutex<HashMap<String, Vec<u8>>>,
}

impl MemoryCache {
    /// How many layers are kept.
    pub fn layer_count(&self) -> usize {
        self.layers.lock().map(|m| m.len()).unwrap_or(0)
    }
}

#[async_trait]
impl LayerCache for MemoryCache {
    async fn get_layer(&self, diff_id: &str) -> Result<Option<LayerScan>, CacheError> {
        Ok(self
            .layers
            .lock()
            .map_err(|e| e.to_string())?
            .get(diff_id)
            .cloned())
    }
    async fn put_layer(&self, diff_id: &str, scan: &LayerScan) -> Result<(), CacheError> {
        self.layers
            .lock()
            .map_err(|e| e.to_string())?
            .insert(diff_id.to_string(), scan.clone());
        Ok(())
    }
    async fn get_config(&self, image_id: &str) -> Result<Option<Vec<u8>>, CacheError> {
        Ok(self
            .configs
            .lock()
            .map_err(|e| e.to_string())?
            .get(image_id)
            .cloned())
    }
    async fn put_config(&self, image_id: &str, config: &[u8]) -> Result<(), CacheError> {
        self.configs
            .lock()
            .map_err(|e| e.to_string())?
            .insert(image_id.to_string(), config.to_vec());
        Ok(())
    }
}
