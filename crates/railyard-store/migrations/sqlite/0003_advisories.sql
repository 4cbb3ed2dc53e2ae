-- Advisories (OSV, imported by `railyard advisories import`) and the findings they give on
-- stored scans. Kept identical in ../sqlite and ../postgres: text ids, BIGINT ms times, the
-- advisory itself as JSON text (railyard_advisory::Advisory), keys made by the app.

CREATE TABLE advisories (
    id          TEXT   NOT NULL PRIMARY KEY,
    modified_ms BIGINT NOT NULL,               -- OSV `modified`; an import replaces only older
    severity    TEXT   NOT NULL,               -- unknown, low, medium, high, critical
    summary     TEXT   NOT NULL,
    withdrawn   BIGINT NOT NULL,               -- 0 or 1
    body        TEXT   NOT NULL,               -- the advisory as JSON
    imported_at BIGINT NOT NULL
);

-- Which packages an advisory speaks about: (OSV ecosystem, normalised name), for lookups
-- from a package to its advisories.
CREATE TABLE advisory_packages (
    advisory_id TEXT NOT NULL,
    ecosystem   TEXT NOT NULL,
    name        TEXT NOT NULL,
    PRIMARY KEY (advisory_id, ecosystem, name)
);
CREATE INDEX advisory_packages_by_package ON advisory_packages (ecosystem, name);

-- Other ids of an advisory (CVE ids), so `inventory affected CVE-…` finds it.
CREATE TABLE advisory_aliases (
    alias       TEXT NOT NULL,
    advisory_id TEXT NOT NULL,
    PRIMARY KEY (alias, advisory_id)
);
CREATE INDEX advisory_aliases_by_advisory ON advisory_aliases (advisory_id);

-- What the stored advisories hit in each stored scan, recomputed from the scan's packages
-- whenever advisories change. Denormalised (project, image, layer, instruction) so that
-- "who is hit by X" is one indexed read.
CREATE TABLE advisory_findings (
    scan_id       TEXT   NOT NULL,
    advisory_id   TEXT   NOT NULL,
    project       TEXT,
    image         TEXT   NOT NULL,             -- the reference scanned
    image_id      TEXT   NOT NULL,
    package       TEXT   NOT NULL,
    ecosystem     TEXT   NOT NULL,             -- deb, apk, pypi, ...
    version       TEXT   NOT NULL,
    location      TEXT   NOT NULL,
    layer_index   BIGINT NOT NULL,
    layer_diff_id TEXT   NOT NULL,
    instruction   TEXT,
    severity      TEXT   NOT NULL,
    fixed         TEXT,
    PRIMARY KEY (scan_id, advisory_id, package, location)
);
CREATE INDEX advisory_findings_by_advisory ON advisory_findings (advisory_id);
