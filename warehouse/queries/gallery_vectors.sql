-- Every face enrolled up to $as_of (and not removed) in one gallery for one model, in a stable order.
SELECT e.face_id, e.subject_id, v.vector
FROM enrollments e JOIN embeddings v ON v.face_id = e.face_id AND v.model_id = e.model_id
WHERE e.gallery_id = $gallery_id AND e.model_id = $model_id AND e.removed_at IS NULL AND e.enrolled_at <= $as_of
ORDER BY e.face_id;
