//! Advisories and their findings on stored scans.
//!
//! An import upserts by id and `modified`: a copy that is not newer than the stored one is
//! left alone (re-importing the same archive changes nothing), a newer one replaces it and its
//! package and alias rows. Findings are not computed at scan time only: after an import,
//! [`Store::rematch_all`] matches every stored scan's packages again, so a new advisory shows
//! up on images scanned last month without reading them. Findings are keyed by scan, and
//! read joined with `image_scans`, so a replaced scan's findings never show. Each advisory is
//! one conditional upsert (`ON CONFLICT … DO UPDATE … WHERE older`), so two servers importing
//! the same archive at once do not fail each other.

use railyard_types::Millis;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use railyard_advisory::matching::{PackageKey, affected_key, inventory_keys};
use railyard_advisory::{Advisory, AdvisoryIndex, Finding};
use railyard_scan::ImageInventory;
use railyard_types::inventory::NewlyAffected;
use serde::Serialize;
use sqlx::Row;

use crate::queries::Seen;
use crate::{Store, StoreError};

/// Rows per transaction when importing; large archives commit in steps.
const IMPORT_BATCH: usize = 500;
/// Values per `IN (…)` list.
const IN_CHUNK: usize = 200;

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    /// Advisories not stored before.
    pub added: usize,
    /// Stored advisories replaced by a newer copy.
    pub updated: usize,
    /// Advisories whose stored copy is as new or newer (left alone).
    pub unchanged: usize,
}

/// What re-matching stored scans found, with the projects newly hit.
pub use railyard_types::inventory::Rematched as RematchCounts;

pub use railyard_types::inventory::AffectedImage;

impl Store {
    /// Stores advisories, replacing only older copies (by `modified`).
    pub async fn import_advisories(
        &self,
        advisories: &[Advisory],
    ) -> Result<ImportCounts, StoreError> {
        let err = self.query_error("importing advisories");
        let now = Millis::now().as_i64();
        let mut counts = ImportCounts::default();
        let mut seen: HashSet<&str> = HashSet::new();
        for batch in advisories.chunks(IMPORT_BATCH) {
            // Read first, outside the write transaction, only to tell "added" from "updated":
            // a transaction that reads before it writes can deadlock against another importer
            // on SQLite. The upsert below decides on its own.
            let stored = self.stored_ids(batch.iter().map(|a| a.id.as_str())).await?;
            let mut tx = self.pool().begin().await.map_err(&err)?;
            for adv in batch {
                let body = serde_json::to_string(adv).unwrap_or_default();
                let changed = sqlx::query(
                    "INSERT INTO advisories (id, modified_ms, severity, summary, withdrawn, body, imported_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (id) DO UPDATE SET modified_ms = excluded.modified_ms, \
                     severity = excluded.severity, summary = excluded.summary, \
                     withdrawn = excluded.withdrawn, body = excluded.body, imported_at = excluded.imported_at \
                     WHERE advisories.modified_ms < excluded.modified_ms \
                     RETURNING id",
                )
                .bind(&adv.id)
                .bind(adv.modified_ms)
                .bind(adv.severity.as_str())
                .bind(&adv.summary)
                .bind(i64::from(adv.withdrawn))
                .bind(body)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(&err)?;
                if changed.is_none() {
                    counts.unchanged += 1;
                    continue;
                }
                if stored.contains(&adv.id) || seen.contains(adv.id.as_str()) {
                    counts.updated += 1;
                } else {
                    counts.added += 1;
                }
                seen.insert(&adv.id);
                for delete in [
                    "DELETE FROM advisory_packages WHERE advisory_id = $1",
                    "DELETE FROM advisory_aliases WHERE advisory_id = $1",
                ] {
                    sqlx::query(delete)
                        .bind(&adv.id)
                        .execute(&mut *tx)
                        .await
                        .map_err(&err)?;
                }
                let keys: HashSet<PackageKey> = adv.affected.iter().map(affected_key).collect();
                for key in keys {
                    sqlx::query(
                        "INSERT INTO advisory_packages (advisory_id, ecosystem, name) VALUES ($1, $2, $3) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(&adv.id)
                    .bind(&key.ecosystem)
                    .bind(&key.name)
                    .execute(&mut *tx)
                    .await
                    .map_err(&err)?;
                }
                let aliases: HashSet<&String> =
                    adv.aliases.iter().filter(|a| **a != adv.id).collect();
                for alias in aliases {
                    sqlx::query(
                        "INSERT INTO advisory_aliases (alias, advisory_id) VALUES ($1, $2) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(alias)
                    .bind(&adv.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(&err)?;
                }
            }
            tx.commit().await.map_err(&err)?;
        }
        Ok(counts)
    }

    /// Which of `ids` are stored.
    async fn stored_ids<'a>(
        &self,
        ids: impl Iterator<Item = &'a str>,
    ) -> Result<HashSet<String>, StoreError> {
        let err = self.query_error("reading advisory ids");
        let ids: Vec<&str> = ids.collect();
        let mut out = HashSet::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT id FROM advisories WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(self.pool()).await.map_err(&err)? {
                out.insert(row.try_get(0).map_err(&err)?);
            }
        }
        Ok(out)
    }

    /// How many advisories are stored.
    pub async fn advisory_count(&self) -> Result<i64, StoreError> {
        sqlx::query("SELECT COUNT(*) FROM advisories")
            .fetch_one(self.pool())
            .await
            .and_then(|r| r.try_get(0))
            .map_err(self.query_error("counting advisories"))
    }

    /// The stored advisory with this id, or else the ones that list it as an alias (a CVE id
    /// names several advisories: Debian's, GitHub's, …).
    pub async fn advisories_named(&self, id_or_alias: &str) -> Result<Vec<Advisory>, StoreError> {
        let err = self.query_error("reading an advisory");
        let id = id_or_alias.trim();
        let rows = sqlx::query(
            "SELECT body FROM advisories WHERE id = $1 \
             UNION SELECT a.body FROM advisories a JOIN advisory_aliases l ON l.advisory_id = a.id \
             WHERE l.alias = $1",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        let mut out = rows
            .iter()
            .map(|r| self.decode_advisory(r))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| {
            (a.id != id)
                .cmp(&(b.id != id))
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// The stored advisories filed under any of `keys`.
    pub async fn advisories_for_keys(
        &self,
        keys: impl IntoIterator<Item = &PackageKey>,
    ) -> Result<Vec<Advisory>, StoreError> {
        let err = self.query_error("looking up advisories by package");
        let mut by_eco: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for k in keys {
            by_eco.entry(&k.ecosystem).or_default().push(&k.name);
        }
        let mut ids: Vec<String> = Vec::new();
        for (eco, names) in by_eco {
            for chunk in names.chunks(IN_CHUNK) {
                let list = placeholders(2, chunk.len());
                let sql = format!(
                    "SELECT DISTINCT advisory_id FROM advisory_packages WHERE ecosystem = $1 AND name IN ({list})"
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(eco);
                for n in chunk {
                    q = q.bind(*n);
                }
                for row in q.fetch_all(self.pool()).await.map_err(&err)? {
                    ids.push(row.try_get(0).map_err(&err)?);
                }
            }
        }
        ids.sort();
        ids.dedup();
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT body FROM advisories WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id);
            }
            for row in q.fetch_all(self.pool()).await.map_err(&err)? {
                out.push(self.decode_advisory(&row)?);
            }
        }
        Ok(out)
    }

    /// Matches an inventory against the stored advisories (without recording anything).
    pub async fn match_inventory(
        &self,
        inventory: &ImageInventory,
    ) -> Result<Vec<Finding>, StoreError> {
        let keys = inventory_keys(inventory);
        let index = AdvisoryIndex::new(self.advisories_for_keys(&keys).await?);
        Ok(index.match_inventory(inventory))
    }

    /// Matches a stored scan against the stored advisories and records its findings,
    /// replacing the previous ones. Returns them. Call after [`Store::save_scan`].
    pub async fn record_findings(
        &self,
        scan_id: &str,
        project: &str,
        inventory: &ImageInventory,
    ) -> Result<Vec<Finding>, StoreError> {
        let findings = self.match_inventory(inventory).await?;
        self.replace_findings(scan_id, project, inventory, &findings)
            .await?;
        Ok(findings)
    }

    /// Matches every stored scan again from its stored packages (no image is read) and
    /// replaces all findings; drops findings of scans that no longer exist. Call after an
    /// import.
    pub async fn rematch_all(&self) -> Result<RematchCounts, StoreError> {
        let err = self.query_error("matching stored scans again");
        let before = self.finding_keys().await?;
        let hit_before: HashSet<(&str, &str)> = (before.iter())
            .map(|k| (k.project.as_str(), k.advisory.as_str()))
            .collect();
        let before: HashSet<(&str, &str, &str, &str)> =
            before.iter().map(FindingKey::key).collect();
        let scans = self.stored_scans().await?;
        let mut after = Vec::new();
        for scan in &scans {
            let findings = self.match_inventory(&scan.inventory).await?;
            self.replace_findings(&scan.id, &scan.project, &scan.inventory, &findings)
                .await?;
            after.extend(findings.iter().map(|f| FindingKey {
                scan: scan.id.clone(),
                project: scan.project.clone(),
                image: scan.inventory.reference.clone(),
                advisory: f.advisory_id.clone(),
                package: f.package.clone(),
                location: f.location.clone(),
            }));
        }
        sqlx::query(
            "DELETE FROM advisory_findings WHERE scan_id NOT IN (SELECT id FROM image_scans)",
        )
        .execute(self.pool())
        .await
        .map_err(&err)?;
        // A project newly hit: by an advisory that hit none of its images before.
        let mut newly: BTreeMap<&str, (BTreeSet<&str>, BTreeSet<&str>)> = BTreeMap::new();
        for k in &after {
            if !hit_before.contains(&(k.project.as_str(), k.advisory.as_str())) {
                let (advisories, images) = newly.entry(&k.project).or_default();
                advisories.insert(&k.advisory);
                images.insert(&k.image);
            }
        }
        let after: HashSet<(&str, &str, &str, &str)> = after.iter().map(FindingKey::key).collect();
        Ok(RematchCounts {
            scans: scans.len(),
            findings: after.len(),
            new_findings: after.difference(&before).count(),
            gone_findings: before.difference(&after).count(),
            newly_affected: (newly.into_iter())
                .map(|(project, (advisories, images))| NewlyAffected {
                    project: project.to_owned(),
                    advisories: advisories.into_iter().map(str::to_owned).collect(),
                    images: images.into_iter().map(str::to_owned).collect(),
                })
                .collect(),
        })
    }

    /// Every stored image hit by the advisory `id_or_alias` (by id, or every advisory that has
    /// it as an alias), by project, image, layer.
    pub async fn affected_by(&self, id_or_alias: &str) -> Result<Vec<AffectedImage>, StoreError> {
        self.affected_by_seen(Seen::All, id_or_alias).await
    }

    /// [`Store::affected_by`] among the projects `seen` shows.
    pub async fn affected_by_seen(
        &self,
        seen: Seen<'_>,
        id_or_alias: &str,
    ) -> Result<Vec<AffectedImage>, StoreError> {
        let err = self.query_error("listing images hit by an advisory");
        let advisories = self.advisories_named(id_or_alias).await?;
        if advisories.is_empty() {
            return Err(self.not_found(format!("no advisory with id or alias `{id_or_alias}`")));
        }
        let mut out = Vec::new();
        for adv in &advisories {
            let sql = format!(
                "SELECT f.advisory_id, s.project, s.reference, s.image_id, s.scanned_at, f.package, \
                 f.ecosystem, f.version, f.location, f.layer_index, f.layer_diff_id, f.instruction, \
                 f.severity, f.fixed \
                 FROM advisory_findings f JOIN image_scans s ON s.id = f.scan_id \
                 WHERE {} AND f.advisory_id = $2",
                seen.condition("s.project")
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(seen.value())
                .bind(&adv.id)
                .fetch_all(self.pool())
                .await
                .map_err(&err)?;
            for r in rows {
                out.push(AffectedImage {
                    advisory_id: r.try_get(0).map_err(&err)?,
                    project: r.try_get(1).map_err(&err)?,
                    image: r.try_get(2).map_err(&err)?,
                    image_id: r.try_get(3).map_err(&err)?,
                    scanned_at: Millis(r.try_get(4).map_err(&err)?),
                    package: r.try_get(5).map_err(&err)?,
                    ecosystem: r.try_get(6).map_err(&err)?,
                    version: r.try_get(7).map_err(&err)?,
                    location: r.try_get(8).map_err(&err)?,
                    layer_index: r.try_get(9).map_err(&err)?,
                    layer_diff_id: r.try_get(10).map_err(&err)?,
                    instruction: r.try_get(11).map_err(&err)?,
                    severity: r.try_get(12).map_err(&err)?,
                    fixed: r.try_get(13).map_err(&err)?,
                });
            }
        }
        out.sort_by(|a, b| {
            (
                &a.project,
                &a.image,
                a.layer_index,
                &a.package,
                &a.advisory_id,
            )
                .cmp(&(
                    &b.project,
                    &b.image,
                    b.layer_index,
                    &b.package,
                    &b.advisory_id,
                ))
        });
        Ok(out)
    }

    async fn replace_findings(
        &self,
        scan_id: &str,
        project: &str,
        inv: &ImageInventory,
        findings: &[Finding],
    ) -> Result<(), StoreError> {
        let err = self.query_error("recording advisory findings");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        sqlx::query("DELETE FROM advisory_findings WHERE scan_id = $1")
            .bind(scan_id)
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        let mut seen = HashSet::new();
        for f in findings {
            if !seen.insert((&f.advisory_id, &f.package, &f.location)) {
                continue;
            }
            sqlx::query(
                "INSERT INTO advisory_findings (scan_id, advisory_id, project, image, image_id, package, \
                 ecosystem, version, location, layer_index, layer_diff_id, instruction, severity, fixed) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(scan_id)
            .bind(&f.advisory_id)
            .bind(project)
            .bind(&inv.reference)
            .bind(&inv.image_id)
            .bind(&f.package)
            .bind(f.ecosystem.as_str())
            .bind(&f.version)
            .bind(&f.location)
            .bind(f.layer_index as i64)
            .bind(&f.layer_diff_id)
            .bind(&f.instruction)
            .bind(f.severity.as_str())
            .bind(&f.fixed)
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
        }
        tx.commit().await.map_err(&err)
    }

    /// The findings of each image's current scan. A rescan replaces the scan but leaves its
    /// findings until [`Store::rematch_all`] drops them: counted, they would all be "gone".
    async fn finding_keys(&self) -> Result<Vec<FindingKey>, StoreError> {
        let err = self.query_error("reading advisory findings");
        let rows = sqlx::query(
            "SELECT f.scan_id, s.project, s.reference, f.advisory_id, f.package, f.location \
             FROM advisory_findings f JOIN image_scans s ON s.id = f.scan_id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        rows.iter()
            .map(|r| {
                Ok(FindingKey {
                    scan: r.try_get(0)?,
                    project: r.try_get(1)?,
                    image: r.try_get(2)?,
                    advisory: r.try_get(3)?,
                    package: r.try_get(4)?,
                    location: r.try_get(5)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(err)
    }

    fn decode_advisory(&self, row: &sqlx::any::AnyRow) -> Result<Advisory, StoreError> {
        let body: String = row
            .try_get(0)
            .map_err(self.query_error("reading an advisory"))?;
        serde_json::from_str(&body).map_err(|_| StoreError::Corrupt {
            location: self.location().to_string(),
            what: "advisory",
            value: body.chars().take(80).collect(),
        })
    }
}

/// One finding of a stored scan, as a re-match compares them.
struct FindingKey {
    scan: String,
    project: String,
    image: String,
    advisory: String,
    package: String,
    location: String,
}

impl FindingKey {
    /// What makes a finding the same before and after: its scan, advisory, package, place.
    fn key(&self) -> (&str, &str, &str, &str) {
        (&self.scan, &self.advisory, &self.package, &self.location)
    }
}

/// `$from, $from+1, …` for an `IN` list of `n` values.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    //! One story on SQLite, and on PostgreSQL when `RAILYARD_TEST_POSTGRES_URL` is set:
    //! scan stored, advisories imported, stored scans matched again, updated, withdrawn.
    use super::*;
    use railyard_scan::{Distro, Ecosystem, LayerRef, Package};
    use serde_json::json;

    fn advisory(id: &str, modified: &str, fixed: &str) -> Advisory {
        let doc = json!({
            "id": id,
            "modified": modified,
            "aliases": ["CVE-2026-0001"],
            "summary": "glibc: buffer overflow",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{
                "package": {"ecosystem": "Debian:12", "name": "glibc"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
            }]
        });
        railyard_advisory::osv::parse(&serde_json::to_vec(&doc).unwrap())
            .unwrap()
            .advisory
    }

    fn inventory() -> ImageInventory {
        let libc = Package {
            name: "libc6".into(),
            version: "2.36-9+deb12u3".into(),
            ecosystem: Ecosystem::Deb,
            purl: "pkg:deb/debian/libc6@2.36-9+deb12u3".into(),
            source_name: Some("glibc".into()),
            source_version: None,
            license: None,
            arch: Some("amd64".into()),
            location: "var/lib/dpkg/status".into(),
            layer: LayerRef {
                index: 1,
                diff_id: "sha256:bbbb".into(),
                instruction: Some("RUN apt-get install -y libc6".into()),
            },
            owned_by_os: false,
        };
        serde_json::from_value(json!({
            "image_id": "sha256:img1",
            "reference": "ci-env:abc",
            "distro": Distro { id: "debian".into(), version_id: "12".into(), pretty_name: None },
            "layers": [],
            "packages": [libc],
        }))
        .unwrap()
    }

    async fn story(store: Store) {
        let inv = inventory();
        let scan_id = store
            .save_scan("web", None, &inv, Millis(1_000))
            .await
            .unwrap();
        assert!(
            store
                .record_findings(&scan_id, "web", &inv)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .affected_by("DSA-1")
                .await
                .unwrap_err()
                .to_string()
                .contains("no advisory with id or alias `DSA-1`")
        );

        let v1 = advisory("DSA-1", "2026-11-01T00:00:00Z", "2.36-9+deb12u4");
        let counts = store
            .import_advisories(std::slice::from_ref(&v1))
            .await
            .unwrap();
        assert_eq!(
            counts,
            ImportCounts {
                added: 1,
                updated: 0,
                unchanged: 0
            }
        );
        let m = store.rematch_all().await.unwrap();
        assert_eq!(
            (m.scans, m.findings, m.new_findings, m.gone_findings),
            (1, 1, 1, 0)
        );

        let hit = store.affected_by("DSA-1").await.unwrap();
        assert_eq!(hit.len(), 1);
        assert_eq!(
            (
                hit[0].project.as_str(),
                hit[0].image.as_str(),
                hit[0].layer_index,
                hit[0].instruction.as_deref()
            ),
            ("web", "ci-env:abc", 1, Some("RUN apt-get install -y libc6"))
        );
        assert_eq!(
            (hit[0].package.as_str(), hit[0].severity.as_str()),
            ("libc6", "critical")
        );
        assert_eq!(
            store.affected_by("CVE-2026-0001").await.unwrap(),
            hit,
            "found by alias"
        );

        // The same archive again changes nothing.
        let again = store
            .import_advisories(std::slice::from_ref(&v1))
            .await
            .unwrap();
        assert_eq!(
            again,
            ImportCounts {
                added: 0,
                updated: 0,
                unchanged: 1
            }
        );
        assert_eq!(store.rematch_all().await.unwrap().new_findings, 0);

        // A newer copy saying the installed version was never affected replaces it.
        let v2 = advisory("DSA-1", "2026-11-20T00:00:00Z", "2.36-9+deb12u2");
        assert_eq!(store.import_advisories(&[v2]).await.unwrap().updated, 1);
        let m = store.rematch_all().await.unwrap();
        assert_eq!((m.findings, m.gone_findings), (0, 1));
        assert!(store.affected_by("DSA-1").await.unwrap().is_empty());
        // An older copy does not bring the old ranges back.
        assert_eq!(store.import_advisories(&[v1]).await.unwrap().unchanged, 1);
        assert_eq!(
            store.advisories_named("DSA-1").await.unwrap()[0].modified_ms,
            1_795_132_800_000
        );
        assert_eq!(store.advisory_count().await.unwrap(), 1);

        // A rescan of the image (new scan id) is matched, and the old scan's findings vanish.
        let v3 = advisory("DSA-1", "2026-11-21T00:00:00Z", "2.37-1");
        store.import_advisories(&[v3]).await.unwrap();
        let new_id = store
            .save_scan("web", None, &inv, Millis(2_000))
            .await
            .unwrap();
        assert_ne!(new_id, scan_id);
        let m = store.rematch_all().await.unwrap();
        assert_eq!((m.scans, m.findings), (1, 1));
        assert_eq!(store.affected_by("DSA-1").await.unwrap().len(), 1);
        store.close().await;
    }

    /// Rescans of an image leave their findings behind until the next import; that import
    /// counts only what went from each image's current scan.
    async fn rescans_are_not_counted_as_gone(store: Store) {
        let mut inv = inventory();
        let mut zlib = inv.packages[0].clone();
        zlib.name = "zlib1g".into();
        zlib.source_name = Some("zlib".into());
        zlib.version = "1:1.2.13.dfsg-1".into();
        inv.packages.push(zlib);
        let mut zlib_dsa = advisory("DSA-2", "2026-11-01T00:00:00Z", "1:1.2.13.dfsg-2");
        zlib_dsa.affected[0].name = "zlib".into();
        store
            .import_advisories(&[
                advisory("DSA-1", "2026-11-01T00:00:00Z", "2.36-9+deb12u4"),
                zlib_dsa.clone(),
            ])
            .await
            .unwrap();
        // Scanned three times, as `railyard scan` and every pipeline run record it.
        for at in 1..=3 {
            let id = store
                .save_scan("web", None, &inv, Millis(at))
                .await
                .unwrap();
            assert_eq!(
                store.record_findings(&id, "web", &inv).await.unwrap().len(),
                2
            );
        }
        // The zlib fix is now said to be older than what is installed: one finding goes.
        zlib_dsa.modified_ms += 1;
        zlib_dsa.affected[0].ranges[0].events[1] =
            railyard_advisory::osv::Event::Fixed("1:1.2.13.dfsg-1".into());
        assert_eq!(
            store.import_advisories(&[zlib_dsa]).await.unwrap().updated,
            1
        );
        let m = store.rematch_all().await.unwrap();
        assert_eq!(
            (m.scans, m.findings, m.new_findings, m.gone_findings),
            (1, 1, 0, 1)
        );
        // Nothing is left of the replaced scans: the next import counts no change.
        let m = store.rematch_all().await.unwrap();
        assert_eq!((m.findings, m.new_findings, m.gone_findings), (1, 0, 0));
        store.close().await;
    }

    #[tokio::test]
    async fn rescans_are_not_counted_as_gone_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        rescans_are_not_counted_as_gone(Store::open_in(dir.path()).await.unwrap()).await;
    }

    #[tokio::test]
    async fn rescans_are_not_counted_as_gone_on_postgres() {
        use crate::test_pg::PgDb;
        let Some(db) = PgDb::create("rescans_are_not_counted_as_gone_on_postgres").await else {
            return;
        };
        rescans_are_not_counted_as_gone(Store::open(&db.url).await.unwrap()).await;
        db.drop_db().await;
    }

    /// Two importers of the same archive at once (two servers, say) both succeed.
    async fn concurrent_imports(store: Store) {
        let batch: Vec<Advisory> = (0..300)
            .map(|i| {
                advisory(
                    &format!("DSA-{i}"),
                    "2026-11-01T00:00:00Z",
                    "2.36-9+deb12u4",
                )
            })
            .collect();
        let (a, b) = tokio::join!(
            store.import_advisories(&batch),
            store.import_advisories(&batch)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.added + a.unchanged, 300);
        assert_eq!(b.added + b.unchanged, 300);
        assert_eq!(store.advisory_count().await.unwrap(), 300);
        assert_eq!(
            store.advisories_named("CVE-2026-0001").await.unwrap().len(),
            300
        );
        store.close().await;
    }

    #[tokio::test]
    async fn concurrent_imports_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        concurrent_imports(Store::open_in(dir.path()).await.unwrap()).await;
    }

    #[tokio::test]
    async fn advisory_story_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        story(Store::open_in(dir.path()).await.unwrap()).await;
    }

    #[tokio::test]
    async fn advisory_story_on_postgres() {
        use crate::test_pg::PgDb;
        let Some(db) = PgDb::create("advisory_story_on_postgres").await else {
            return;
        };
        story(Store::open(&db.url).await.unwrap()).await;
        db.drop_db().await;
        let Some(db) = PgDb::create("advisory_story_on_postgres").await else {
            return;
        };
        concurrent_imports(Store::open(&db.url).await.unwrap()).await;
        db.drop_db().await;
    }
}
