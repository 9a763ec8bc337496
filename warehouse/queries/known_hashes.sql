-- Content hashes this gallery has already enrolled or refused for this model.
SELECT f.image_sha256 AS sha256
FROM enrollments e JOIN faces f USING (face_id)
WHERE e.gallery_id = ? AND e.model_id = ?
UNION
SELECT sha256 FROM refusals WHERE gallery_id = ? AND model_id = ? AND sha256 <> '';
