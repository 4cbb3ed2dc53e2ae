//! Image inventories: the scanner's per-layer cache ([`railyard_scan::LayerCache`] on this
//! store, so an unchanged layer is read once across every image and project), whole scans
//! (the latest per project and image ID), and `who-has` queries over them.

use crate::advisories::placeholders;
use crate::queries::Seen;
use crate::{Backend, Store, StoreError};
use railyard_advisory::matching::package_name_key;
use railyard_scan::{CACHE_FORMAT, CacheError, Ecosystem, ImageInventory, LayerCache, LayerScan};
use railyard_types::{Millis, RunId};
use sqlx::Row;

/// One stored scan, as listed for re-matching advisories without reading any image.
#[derive(Debug, Clone)]
pub struct StoredScan {
    /// The scan's id (a ULID).
    pub id: String,
    /// The project it was scanned for (`""` outside a project).
    pub project: String,
    /// The run that built the image, if any.
    pub run_id: Option<RunId>,
    /// When it was scanned.
    pub scanned_at: Millis,
    /// What was found.
    pub inventory: ImageInventory,
}

pub use railyard_types::inventory::PackageHolder;

impl Store {
    /// Stores a scan of `inv` for `project`, replacing the previous scan of the same image in
    /// that project. Returns the scan's id.
    pub async fn save_scan(
        &self,
        project: &str,
        run_id: Option<&RunId>,
        inv: &ImageInventory,
        now: Millis,
    ) -> Result<String, StoreError> {
        let err = self.query_error("storing an image scan");
        let id = ulid::Ulid::new().to_string();
        let json = serde_json::to_string(inv).unwrap_or_default();
        let distro = inv
            .distro
            .as_ref()
            .map(|d| format!("{}:{}", d.id, d.version_id));
        let mut tx = self.pool().begin().await.map_err(&err)?;
        // Two agents meeting one new image at once both scan it: on PostgreSQL the second
        // insert would clash with the first's on the unique index; in turn, the second
        // replaces the first. (SQLite has one writer at a time already.)
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("image-scan {project} {}", inv.image_id))
                .execute(&mut *tx)
                .await
                .map_err(&err)?;
        }
        // The image's earlier scan goes first, by two writes: a transaction that opened on a
        // read would have to upgrade SQLite's lock to write, and fails at once ("database is
        // locked") when another writer got there in between, where a first write waits its
        // turn (several agent slots scan into one file).
        sqlx::query(
            "DELETE FROM image_packages WHERE scan_id IN \
             (SELECT id FROM image_scans WHERE project = $1 AND image_id = $2)",
        )
        .bind(project)
        .bind(&inv.image_id)
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        sqlx::query("DELETE FROM image_scans WHERE project = $1 AND image_id = $2")
            .bind(project)
            .bind(&inv.image_id)
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        sqlx::query(
            "INSERT INTO image_scans (id, project, run_id, reference, image_id, distro, scanned_at, inventory) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(project)
        .bind(run_id.map(RunId::as_str))
        .bind(&inv.reference)
        .bind(&inv.image_id)
        .bind(distro)
        .bind(now.as_i64())
        .bind(json)
        .execute(&mut *tx)
        .await
        .map_err(&err)?;
        for p in &inv.packages {
            sqlx::query(
                "INSERT INTO image_packages (scan_id, name, version, ecosystem, purl, source_name, \
                 source_version, location, layer_index, diff_id, instruction, owned_by_os) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&id)
            .bind(&p.name)
            .bind(&p.version)
            .bind(p.ecosystem.as_str())
            .bind(&p.purl)
            .bind(&p.source_name)
            .bind(&p.source_version)
            .bind(&p.location)
            .bind(p.layer.index as i64)
            .bind(&p.layer.diff_id)
            .bind(&p.layer.instruction)
            .bind(i64::from(p.owned_by_os))
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        }
        tx.commit().await.map_err(&err)?;
        Ok(id)
    }

    /// Every stored image holding a package named `name` (binary or source name), newest
    /// scans first. Names are compared as the advisory matcher files them
    /// ([`package_name_key`]: `pyyaml` finds `PyYAML`, PEP 503), source names as written.
    /// Version filtering is the caller's: it needs the ecosystem's ordering.
    pub async fn who_has(&self, name: &str) -> Result<Vec<PackageHolder>, StoreError> {
        self.who_has_seen(Seen::All, name).await
    }

    /// [`Store::who_has`] among the projects `seen` shows.
    pub async fn who_has_seen(
        &self,
        seen: Seen<'_>,
        name: &str,
    ) -> Result<Vec<PackageHolder>, StoreError> {
        let err = self.query_error("looking up who has a package");
        let name = name.trim();
        let same = |eco: Ecosystem, stored: &str| {
            package_name_key(eco, stored) == package_name_key(eco, name)
        };
        // SQL cannot fold names as the matcher does: the stored spellings (read from the name
        // index) that some ecosystem takes for `name` are looked up, and each row is kept
        // below only when its own ecosystem does.
        let mut names: Vec<String> = vec![name.to_string()];
        for r in sqlx::query("SELECT DISTINCT name FROM image_packages")
            .fetch_all(self.pool())
            .await
            .map_err(&err)?
        {
            let stored: String = r.try_get(0).map_err(&err)?;
            if stored != name && Ecosystem::ALL.into_iter().any(|e| same(e, &stored)) {
                names.push(stored);
            }
        }
        let sql = format!(
            "SELECT s.project, s.reference, s.image_id, s.scanned_at, p.name, p.version, \
             p.ecosystem, p.source_name, p.location, p.layer_index, p.diff_id, p.instruction, \
             p.owned_by_os \
             FROM image_packages p JOIN image_scans s ON s.id = p.scan_id \
             WHERE {} AND (p.source_name = $2 OR p.name IN ({})) \
             ORDER BY s.scanned_at DESC, s.project, s.reference, p.ecosystem, p.name, p.version",
            seen.condition("s.project"),
            placeholders(3, names.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(seen.value())
            .bind(name);
        for n in &names {
            q = q.bind(n);
        }
        let rows = q.fetch_all(self.pool()).await.map_err(&err)?;
        let holders = rows
            .iter()
            .map(|r| {
                Ok(PackageHolder {
                    project: r.try_get(0)?,
                    reference: r.try_get(1)?,
                    image_id: r.try_get(2)?,
                    scanned_at: Millis(r.try_get(3)?),
                    name: r.try_get(4)?,
                    version: r.try_get(5)?,
                    ecosystem: r.try_get(6)?,
                    source_name: r.try_get(7)?,
                    location: r.try_get(8)?,
                    layer_index: r.try_get(9)?,
                    diff_id: r.try_get(10)?,
                    instruction: r.try_get(11)?,
                    owned_by_os: r.try_get::<i64, _>(12)? != 0,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(&err)?;
        Ok(holders
            .into_iter()
            .filter(|h| {
                h.source_name.as_deref() == Some(name)
                    || Ecosystem::parse(&h.ecosystem).map_or(h.name == name, |e| same(e, &h.name))
            })
            .collect())
    }

    /// Every stored scan with its inventory, oldest first (to match advisories again).
    pub async fn stored_scans(&self) -> Result<Vec<StoredScan>, StoreError> {
        let err = self.query_error("listing stored image scans");
        let rows = sqlx::query(
            "SELECT id, project, run_id, scanned_at, inventory FROM image_scans ORDER BY scanned_at, id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let json: String = r.try_get(4).map_err(&err)?;
            let inventory = serde_json::from_str(&json).map_err(|_| StoreError::Corrupt {
                location: self.location().to_string(),
                what: "image inventory",
                value: json.chars().take(80).collect(),
            })?;
            out.push(StoredScan {
                id: r.try_get(0).map_err(&err)?,
                project: r.try_get(1).map_err(&err)?,
                run_id: r
                    .try_get::<Option<String>, _>(2)
                    .map_err(&err)?
                    .map(RunId::from),
                scanned_at: Millis(r.try_get(3).map_err(&err)?),
                inventory,
            });
        }
        Ok(out)
    }
}

/// The layer cache in the database: entries never change (a diff ID names content), so
/// inserts that lose a race are ignored.
#[async_trait::async_trait]
impl LayerCache for Store {
    async fn get_layer(&self, diff_id: &str) -> Result<Option<LayerScan>, CacheError> {
        let row = sqlx::query("SELECT scan FROM scan_layers WHERE diff_id = $1 AND format = $2")
            .bind(diff_id)
            .bind(i64::from(CACHE_FORMAT))
            .fetch_optional(self.pool())
            .await?;
        match row {
            // An entry this build cannot read is treated as absent and will be overwritten.
            Some(r) => Ok(serde_json::from_str(&r.try_get::<String, _>(0)?).ok()),
            None => Ok(None),
        }
    }

    async fn put_layer(&self, diff_id: &str, scan: &LayerScan) -> Result<(), CacheError> {
        sqlx::query(
            "INSERT INTO scan_layers (diff_id, format, scan, size, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (diff_id, format) DO UPDATE SET scan = excluded.scan, size = excluded.size",
        )
        .bind(diff_id)
        .bind(i64::from(CACHE_FORMAT))
        .bind(serde_json::to_string(scan)?)
        .bind(scan.size as i64)
        .bind(Millis::now().as_i64())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn get_config(&self, image_id: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let row = sqlx::query("SELECT config FROM scan_image_configs WHERE image_id = $1")
            .bind(image_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get::<String, _>(0)?.into_bytes()),
            None => None,
        })
    }

    async fn put_config(&self, image_id: &str, config: &[u8]) -> Result<(), CacheError> {
        let text = String::from_utf8_lossy(config);
        sqlx::query(
            "INSERT INTO scan_image_configs (image_id, config, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (image_id) DO NOTHING",
        )
        .bind(image_id)
        .bind(text.as_ref())
        .bind(Millis::now().as_i64())
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use railyard_scan::{Ecosystem, LayerInfo, LayerRef, Package, ScanStats};

    fn inventory(image_id: &str, version: &str) -> ImageInventory {
        ImageInventory {
            image_id: image_id.into(),
            reference: "app:1".into(),
            distro: None,
            layers: vec![LayerInfo {
                index: 0,
                diff_id: "sha256:l0".into(),
                instruction: None,
                size: 10,
            }],
            packages: vec![Package {
                name: "libc6".into(),
                version: version.into(),
                ecosystem: Ecosystem::Deb,
                purl: format!("pkg:deb/debian/libc6@{version}"),
                source_name: Some("glibc".into()),
                source_version: None,
                license: None,
                arch: None,
                location: "var/lib/dpkg/status".into(),
                layer: LayerRef {
                    index: 0,
                    diff_id: "sha256:l0".into(),
                    instruction: Some("RUN apt-get install -y libc6".into()),
                },
                owned_by_os: false,
            }],
            warnings: vec![],
            stats: ScanStats::default(),
        }
    }

    #[tokio::test]
    async fn scans_and_cache_on_both_backends() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).await.unwrap();
        scans_story(&store).await;
        cache_story(&store).await;
        if let Some(db) = crate::test_pg::PgDb::create("scans_and_cache_on_both_backends").await {
            let store = Store::open(&db.url).await.unwrap();
            scans_story(&store).await;
            cache_story(&store).await;
            store.close().await;
            db.drop_db().await;
        }
    }

    async fn scans_story(store: &Store) {
        store
            .save_scan("a", None, &inventory("sha256:i1", "2.36-9"), Millis(1))
            .await
            .unwrap();
        store
            .save_scan("a", None, &inventory("sha256:i1", "2.36-10"), Millis(2))
            .await
            .unwrap();
        store
            .save_scan(
                "b",
                Some(&RunId::from("run1")),
                &inventory("sha256:i2", "2.36-9"),
                Millis(3),
            )
            .await
            .unwrap();
        let hits = store.who_has("libc6").await.unwrap();
        let got: Vec<(&str, &str)> = hits
            .iter()
            .map(|h| (h.project.as_str(), h.version.as_str()))
            .collect();
        assert_eq!(got, vec![("b", "2.36-9"), ("a", "2.36-10")]);
        assert_eq!(
            hits[0].instruction.as_deref(),
            Some("RUN apt-get install -y libc6")
        );
        // By source package too.
        assert_eq!(store.who_has("glibc").await.unwrap().len(), 2);
        assert!(store.who_has("nothing").await.unwrap().is_empty());
        let scans = store.stored_scans().await.unwrap();
        assert_eq!(scans.len(), 2);
        assert_eq!(scans[1].run_id.as_deref(), Some("run1"));
        assert_eq!(scans[1].inventory.packages[0].version, "2.36-9");
    }

    #[tokio::test]
    async fn who_has_folds_names_as_the_matcher_does_on_both_backends() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).await.unwrap();
        folding_story(&store).await;
        store.close().await;
        let name = "who_has_folds_names_as_the_matcher_does_on_both_backends";
        if let Some(db) = crate::test_pg::PgDb::create(name).await {
            let store = Store::open(&db.url).await.unwrap();
            folding_story(&store).await;
            store.close().await;
            db.drop_db().await;
        }
    }

    /// Names as the packages' own metadata spell them, looked up as people type them.
    async fn folding_story(store: &Store) {
        let mut inv = inventory("sha256:i3", "2.36-9");
        let template = inv.packages[0].clone();
        let pkg = |eco: Ecosystem, name: &str, version: &str| Package {
            name: name.into(),
            version: version.into(),
            ecosystem: eco,
            source_name: None,
            ..template.clone()
        };
        inv.packages = vec![
            pkg(Ecosystem::PyPI, "PyYAML", "5.3.1"),
            pkg(Ecosystem::PyPI, "Django", "2.2"),
            pkg(Ecosystem::PyPI, "zope.interface", "6.0"),
            pkg(Ecosystem::Cargo, "serde_json", "1.0.100"),
            pkg(Ecosystem::Deb, "foo-bar", "1.0-1"),
            pkg(Ecosystem::Npm, "@types/node", "20.1.0"),
        ];
        store.save_scan("a", None, &inv, Millis(1)).await.unwrap();
        // A second image spells PyYAML another way; both are found.
        let mut other = inventory("sha256:i4", "2.36-9");
        other.packages = vec![pkg(Ecosystem::PyPI, "pyyaml", "6.0.1")];
        store.save_scan("b", None, &other, Millis(2)).await.unwrap();

        let found = async |query: &str| {
            let hits = store.who_has(query).await.unwrap();
            hits.iter()
                .map(|h| format!("{} {}@{}", h.project, h.name, h.version))
                .collect::<Vec<_>>()
        };
        let yaml = ["b pyyaml@6.0.1", "a PyYAML@5.3.1"];
        assert_eq!(found("pyyaml").await, yaml);
        assert_eq!(found("PyYAML").await, yaml);
        assert_eq!(found(" PYYAML ").await, yaml);
        assert_eq!(found("django").await, ["a Django@2.2"]);
        assert_eq!(found("Zope_Interface").await, ["a zope.interface@6.0"]);
        assert_eq!(found("zope--interface").await, ["a zope.interface@6.0"]);
        assert_eq!(found("serde-json").await, ["a serde_json@1.0.100"]);
        assert_eq!(found("@types/node").await, ["a @types/node@20.1.0"]);
        // Distro names have no folding rules, even where PyPI's would fold them.
        assert_eq!(found("foo-bar").await, ["a foo-bar@1.0-1"]);
        assert!(found("foo_bar").await.is_empty());
        assert!(found("Foo-Bar").await.is_empty());
        assert!(
            found("py-yaml").await.is_empty(),
            "PEP 503 keeps letters apart"
        );
    }

    async fn cache_story(store: &Store) {
        assert!(store.get_layer("sha256:x").await.unwrap().is_none());
        let scan = LayerScan {
            size: 42,
            removed: vec!["usr/lib/x".into()],
            complete: true,
            ..LayerScan::default()
        };
        store.put_layer("sha256:x", &scan).await.unwrap();
        store.put_layer("sha256:x", &scan).await.unwrap();
        assert_eq!(store.get_layer("sha256:x").await.unwrap(), Some(scan));
        store.put_config("sha256:img", b"{\"a\":1}").await.unwrap();
        assert_eq!(
            store.get_config("sha256:img").await.unwrap().as_deref(),
            Some(&b"{\"a\":1}"[..])
        );
    }
}
