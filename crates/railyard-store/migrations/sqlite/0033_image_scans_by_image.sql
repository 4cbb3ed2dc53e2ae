-- The server looks an image's scan up by image ID alone (an image scanned once, for any
-- project, is not scanned again: issue 16); the unique index leads with the project.
-- Kept identical in ../sqlite and ../postgres.
CREATE INDEX image_scans_by_image ON image_scans (image_id, scanned_at);
