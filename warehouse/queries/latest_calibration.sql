-- The calibration a search of $gallery_id reads its chances from: the gallery's own newest,
-- else the newest from a labeled set; never another gallery's.
SELECT calibration_id, model_id, source, gallery_id, pairs, faces, impostor_scores, created_at
FROM calibrations
WHERE model_id = $model_id AND (gallery_id = $gallery_id OR gallery_id IS NULL)
ORDER BY gallery_id IS NULL, created_at DESC
LIMIT 1;
