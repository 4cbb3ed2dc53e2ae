-- Image inventory (railyard-scan). Same tables and types on SQLite and PostgreSQL.

-- Per-layer scan results, keyed by the layer's diff ID and the cataloguers' format version,
-- so an unchanged layer is read once across every image and project.
CREATE TABLE scan_layers (
    diff_id    TEXT   NOT NULL,
    format     BIGINT NOT NULL,
    scan       TEXT   NOT NULL,   -- railyard_scan::LayerScan as JSON
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (diff_id, format)
);

-- Image configs by image ID, so a fully cached image needs no export.
CREATE TABLE scan_image_configs (
    image_id   TEXT   NOT NULL PRIMARY KEY,
    config     TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

-- Whole scans: the latest per (project, image ID).
CREATE TABLE image_scans (
    id         TEXT   NOT NULL PRIMARY KEY,  -- ULID
    project    TEXT   NOT NULL,              -- '' when scanned outside a project
    run_id     TEXT,
    reference  TEXT   NOT NULL,
    image_id   TEXT   NOT NULL,
    distro     TEXT,                          -- 'debian:12'
    scanned_at BIGINT NOT NULL,
    inventory  TEXT   NOT NULL               -- railyard_scan::ImageInventory as JSON
);
CREATE UNIQUE INDEX image_scans_by_project_image ON image_scans (project, image_id);

-- One row per package of a stored scan, for `inventory who-has`.
CREATE TABLE image_packages (
    scan_id        TEXT   NOT NULL REFERENCES image_scans (id) ON DELETE CASCADE,
    name           TEXT   NOT NULL,
    version        TEXT   NOT NULL,
    ecosystem      TEXT   NOT NULL,
    purl           TEXT   NOT NULL,
    source_name    TEXT,
    source_version TEXT,
    location       TEXT   NOT NULL,
    layer_index    BIGINT NOT NULL,
    diff_id        TEXT   NOT NULL,
    instruction    TEXT,
    owned_by_os    BIGINT NOT NULL
);
CREATE INDEX image_packages_by_name ON image_packages (name);
CREATE INDEX image_packages_by_source ON image_packages (source_name);
CREATE INDEX image_packages_by_scan ON image_packages (scan_id);
