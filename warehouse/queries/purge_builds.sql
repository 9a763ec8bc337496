-- Index builds a purge deletes: every build holding a face purge_plan.sql selected, and
-- builds retired before the cutoff (?). Temp table, read by purge_apply.sql.
CREATE OR REPLACE TEMP TABLE purge_builds AS
SELECT build_id, folder FROM index_builds b
WHERE deleted_at IS NULL
  AND (EXISTS (SELECT 1 FROM index_members m
               WHERE m.build_id = b.build_id AND m.face_id IN (SELECT face_id FROM purge_faces))
       OR (status = 'retired' AND coalesce(retired_at, built_at) < ?));
