-- Rows of a build whose face has since been removed or purged: never returned.
SELECT m.shard, m.row
FROM index_members m
LEFT JOIN enrollments e ON e.face_id = m.face_id AND e.gallery_id = ? AND e.model_id = ?
WHERE m.build_id = ? AND (e.face_id IS NULL OR e.removed_at IS NOT NULL);
