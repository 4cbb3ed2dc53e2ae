-- The image a job built (`image_build`, issue 13): the reference it is known by (pushed, or
-- local when it was not pushed) and the manifest digest the registry stored, when pushed. A
-- local run's recorder and the server (from an agent's completion) both write it.
-- Kept in step with ../postgres/0020_built_images.sql.
ALTER TABLE jobs ADD COLUMN built_image_ref TEXT;
ALTER TABLE jobs ADD COLUMN built_image_digest TEXT;
