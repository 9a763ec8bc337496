SELECT build_id, folder, shards, vectors, recall, candidate_floor, floor_recall, rank1_agreement, exact_fallback, params,
       file_hashes, build_seconds, snapshot_at
FROM index_builds WHERE gallery_id = ? AND model_id = ? AND status = 'active';
