-- Faces enrolled (and not removed) after $since and up to $as_of that the build does not
-- hold: searched exactly beside the index.
SELECT e.face_id, e.subject_id, v.vector
FROM enrollments e JOIN embeddings v ON v.face_id = e.face_id AND v.model_id = e.model_id
WHERE e.gallery_id = $gallery_id AND e.model_id = $model_id AND e.removed_at IS NULL
  AND e.enrolled_at > $since AND e.enrolled_at <= $as_of
  AND NOT EXISTS (SELECT 1 FROM index_members m WHERE m.build_id = $build_id AND m.face_id = e.face_id)
ORDER BY e.face_id;
