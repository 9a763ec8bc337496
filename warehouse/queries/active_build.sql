SELECT build_id, folder, shards, vectors, params, file_hashes
FROM index_builds WHERE gallery_id = ? AND model_id = ? AND status = 'active';
