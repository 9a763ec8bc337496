-- Rows of a build whose face has since been removed (purged faces are removed first): never
-- returned. Starts from the few removed enrollments, not from the build's members.
SELECT m.shard, m.row
FROM enrollments e JOIN index_members m ON m.face_id = e.face_id
WHERE e.gallery_id = ? AND e.model_id = ? AND e.removed_at IS NOT NULL AND m.build_id = ?;
