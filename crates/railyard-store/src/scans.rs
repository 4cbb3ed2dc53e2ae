//! The server's side of the inventory: stored scans found by image ID (an image scanned once,
//! on any agent, for any project, is never scanned again), listed and read for the people
//! who may see their project ([`Seen`], filtered in the query so a `LIMIT` counts only what
//! the reader may see), and the findings recorded with each.

use crate::queries::Seen;
use crate::{Store, StoreError, StoredScan};
use railyard_scan::ImageInventory;
use railyard_types::inventory::ScanSummary;
use railyard_types::{Millis, RunId};
use sqlx::Row;

/// The most scans one listing shows.
pub const SCAN_LIST_LIMIT: i64 = 500;

const SUMMARY_COLUMNS: &str = "s.id, s.project, s.run_id, s.reference, s.image_id, s.distro, \
     s.scanned_at, \
     (SELECT COUNT(*) FROM image_packages p WHERE p.scan_id = s.id), \
     (SELECT COUNT(*) FROM advisory_findings f WHERE f.scan_id = s.id)";

impl Store {
    /// The newest stored scan of the image `image_id`, in any project.
    pub async fn scan_of_image(&self, image_id: &str) -> Result<Option<StoredScan>, StoreError> {
        let err = self.query_error("looking up an image's scan");
        let row = sqlx::query(
            "SELECT id, project, run_id, scanned_at, inventory FROM image_scans \
             WHERE image_id = $1 ORDER BY scanned_at DESC, id DESC LIMIT 1",
        )
        .bind(image_id)
        .fetch_optional(self.pool())
        .await
        .map_err(&err)?;
        let Some(r) = row else { return Ok(None) };
        let json: String = r.try_get(4).map_err(&err)?;
        Ok(Some(StoredScan {
            id: r.try_get(0).map_err(&err)?,
            project: r.try_get(1).map_err(&err)?,
            run_id: (r.try_get::<Option<String>, _>(2).map_err(&err)?).map(RunId::from),
            scanned_at: Millis(r.try_get(3).map_err(&err)?),
            inventory: self.decode_inventory(json)?,
        }))
    }

    /// Files the inventory of an image already scanned under `project` and `run_id` as
    /// `reference`, unless that project's scan of it already says so: the scan's id.
    pub async fn file_known_scan(
        &self,
        known: StoredScan,
        project: &str,
        run_id: Option<&RunId>,
        reference: &str,
        now: Millis,
    ) -> Result<(String, ImageInventory), StoreError> {
        let same = known.project == project
            && known.run_id.as_ref() == run_id
            && known.inventory.reference == reference;
        if same {
            return Ok((known.id, known.inventory));
        }
        let mut inventory = known.inventory;
        inventory.reference = reference.to_owned();
        let id = self.save_scan(project, run_id, &inventory, now).await?;
        Ok((id, inventory))
    }

    /// The stored scans `seen` shows, newest first (at most [`SCAN_LIST_LIMIT`]); with
    /// `image`, only those of that image (its reference, its ID, or a prefix of its ID's hex).
    pub async fn list_scans(
        &self,
        seen: Seen<'_>,
        image: Option<&str>,
    ) -> Result<Vec<ScanSummary>, StoreError> {
        let err = self.query_error("listing stored scans");
        let image_filter = match image {
            Some(_) => " AND (s.reference = $2 OR s.image_id = $2 OR s.image_id LIKE $3)",
            None => " AND ($2 IS NULL AND $3 IS NULL)",
        };
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM image_scans s WHERE {}{image_filter} \
             ORDER BY s.scanned_at DESC, s.id DESC LIMIT $4",
            seen.condition("s.project")
        );
        let prefix = image.map(|i| {
            let hex: String = (i.strip_prefix("sha256:").unwrap_or(i).chars())
                .filter(char::is_ascii_hexdigit)
                .collect();
            format!("sha256:{hex}%")
        });
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(seen.value())
            .bind(image)
            .bind(prefix)
            .bind(SCAN_LIST_LIMIT)
            .fetch_all(self.pool())
            .await
            .map_err(&err)?;
        rows.iter()
            .map(summary)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(err)
    }

    /// The stored scan `id` with its inventory, when `seen` shows its project.
    pub async fn scan_detail(
        &self,
        seen: Seen<'_>,
        id: &str,
    ) -> Result<Option<(ScanSummary, ImageInventory)>, StoreError> {
        let err = self.query_error("reading a stored scan");
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}, s.inventory FROM image_scans s WHERE {} AND s.id = $2",
            seen.condition("s.project")
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(seen.value())
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(&err)?;
        let Some(r) = row else { return Ok(None) };
        let json: String = r.try_get(9).map_err(&err)?;
        Ok(Some((
            summary(&r).map_err(&err)?,
            self.decode_inventory(json)?,
        )))
    }

    pub(crate) fn decode_inventory(&self, json: String) -> Result<ImageInventory, StoreError> {
        serde_json::from_str(&json).map_err(|_| StoreError::Corrupt {
            location: self.location().to_string(),
            what: "image inventory",
            value: json.chars().take(80).collect(),
        })
    }
}

fn summary(r: &sqlx::any::AnyRow) -> Result<ScanSummary, sqlx::Error> {
    Ok(ScanSummary {
        id: r.try_get(0)?,
        project: r.try_get(1)?,
        run_id: r.try_get(2)?,
        reference: r.try_get(3)?,
        image_id: r.try_get(4)?,
        distro: r.try_get(5)?,
        scanned_at: Millis(r.try_get(6)?),
        packages: r.try_get(7)?,
        findings: r.try_get(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use railyard_types::ProjectName;

    fn inventory() -> ImageInventory {
        let layer = format!("sha256:{}", "b".repeat(64));
        serde_json::from_value(serde_json::json!({
            "image_id": format!("sha256:{}", "a".repeat(64)),
            "reference": "railyard-env:k",
            "distro": { "id": "debian", "version_id": "12", "pretty_name": null },
            "layers": [{ "index": 0, "diff_id": layer, "instruction": null, "size": 1 }],
            "packages": [{
                "name": "libc6", "version": "2.36-9", "ecosystem": "deb", "purl": "p",
                "source_name": "glibc", "source_version": null, "license": null, "arch": null,
                "location": "var/lib/dpkg/status",
                "layer": { "index": 0, "diff_id": layer, "instruction": null },
                "owned_by_os": false
            }],
        }))
        .unwrap()
    }

    async fn story(store: &Store) {
        let inv = inventory();
        assert!(store.scan_of_image(&inv.image_id).await.unwrap().is_none());
        let run = RunId::from("r1");
        store
            .save_scan("a", Some(&run), &inv, Millis(1))
            .await
            .unwrap();
        let known = store.scan_of_image(&inv.image_id).await.unwrap().unwrap();
        // The same job's project and run again: the scan as it is.
        let (same, _) =
            (store.file_known_scan(known.clone(), "a", Some(&run), "railyard-env:k", Millis(2)))
                .await
                .unwrap();
        assert_eq!(same, known.id);
        // Another project: filed under it, under its own name.
        let (b_id, b_inv) = (store.file_known_scan(known, "b", None, "env/b:k", Millis(3)))
            .await
            .unwrap();
        assert_ne!(b_id, same);
        assert_eq!(b_inv.reference, "env/b:k");
        let all = store.list_scans(Seen::All, None).await.unwrap();
        let projects: Vec<&str> = all.iter().map(|s| s.project.as_str()).collect();
        assert_eq!(projects, ["b", "a"]);
        assert_eq!((all[0].packages, all[0].findings), (1, 0));
        let b = ProjectName::from("b");
        let only_b = store.list_scans(Seen::Project(&b), None).await.unwrap();
        assert_eq!(only_b.len(), 1);
        for image in ["env/b:k", "sha256:aaaa", &inv.image_id] {
            let found = store.list_scans(Seen::All, Some(image)).await.unwrap();
            assert!(!found.is_empty(), "{image}");
        }
        assert!(
            store
                .list_scans(Seen::All, Some("sha256:ab"))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .scan_detail(Seen::Project(&b), &same)
                .await
                .unwrap()
                .is_none()
        );
        let (summary, detail) = store.scan_detail(Seen::All, &same).await.unwrap().unwrap();
        assert_eq!((summary.project.as_str(), detail), ("a", inv.clone()));
        let holders = store
            .who_has_seen(Seen::Project(&b), "glibc")
            .await
            .unwrap();
        assert_eq!(holders.len(), 1);
        assert_eq!(holders[0].project, "b");

        // Agents meeting one new image at once each send its scan: every one is stored (the
        // last replaces the others), none fails on the unique index.
        let mut saves = tokio::task::JoinSet::new();
        for n in 0..6 {
            let (store, inv) = (store.clone(), inv.clone());
            saves.spawn(async move { store.save_scan("c", None, &inv, Millis(10 + n)).await });
        }
        while let Some(saved) = saves.join_next().await {
            saved.unwrap().unwrap();
        }
        let c = ProjectName::from("c");
        assert_eq!(
            store
                .list_scans(Seen::Project(&c), None)
                .await
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn scans_found_by_image_and_listed_by_project_on_both_backends() {
        let dir = tempfile::tempdir().unwrap();
        story(&Store::open_in(dir.path()).await.unwrap()).await;
        let name = "scans_found_by_image_and_listed_by_project_on_both_backends";
        if let Some(db) = crate::test_pg::PgDb::create(name).await {
            let store = Store::open(&db.url).await.unwrap();
            story(&store).await;
            store.close().await;
            db.drop_db().await;
        }
    }
}
