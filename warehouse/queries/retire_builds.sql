UPDATE index_builds SET status = 'retired', retired_at = current_timestamp
WHERE gallery_id = ? AND model_id = ? AND status = 'active';
