SELECT count(*) FROM enrollments WHERE gallery_id = ? AND model_id = ? AND removed_at IS NULL;
