-- Face and subject of index hits; reads the registered Arrow relation `hit_batch` (shard, row).
SELECT h.shard, h.row, m.face_id, e.subject_id
FROM hit_batch h
JOIN index_members m ON m.build_id = ? AND m.shard = h.shard AND m.row = h.row
JOIN enrollments e ON e.face_id = m.face_id AND e.gallery_id = ? AND e.model_id = ?;
