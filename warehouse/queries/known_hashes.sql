-- Content hashes this gallery need not look at again for this model: enrolled, refused
-- for a reason other than quality, refused by the current gallery suite version (a
-- changed quality bar re-checks the images an earlier one refused), or purged.
SELECT f.image_sha256 AS sha256
FROM enrollments e JOIN faces f USING (face_id)
WHERE e.gallery_id = $gallery_id AND e.model_id = $model_id
UNION
SELECT sha256 FROM refusals
WHERE gallery_id = $gallery_id AND model_id = $model_id AND sha256 <> '' AND reason <> 'quality'
UNION
SELECT image_sha256 FROM quality_validations
WHERE context = 'enrollment' AND gallery_id = $gallery_id AND suite_version = $suite_version AND NOT passed
UNION
SELECT sha256 FROM purged_images;
