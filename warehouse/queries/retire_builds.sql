UPDATE index_builds SET status = 'retired' WHERE gallery_id = ? AND model_id = ? AND status = 'active';
