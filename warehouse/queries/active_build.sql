SELECT build_id, folder, shards, vectors, recall, exact_fallback, params, file_hashes, snapshot_at
FROM index_builds WHERE gallery_id = ? AND model_id = ? AND status = 'active';
