SELECT build_id, folder, shards, vectors, recall, exact_fallback, params, file_hashes
FROM index_builds WHERE build_id = ?;
