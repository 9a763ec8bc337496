-- How many faces were enrolled (and not removed) in a gallery after $since and up to $as_of:
-- when none, a build has no delta, and the join in delta_vectors.sql is not needed.
SELECT count(*) FROM enrollments
WHERE gallery_id = $gallery_id AND model_id = $model_id AND removed_at IS NULL
  AND enrolled_at > $since AND enrolled_at <= $as_of;
