-- Parameters: the fields of records.IndexBuildRecord; the build serves from its insert.
INSERT INTO index_builds (build_id, gallery_id, model_id, model_sha256, folder, shards, vectors, recall, candidate_floor,
                          floor_recall, rank1_agreement, exact_fallback, params, file_hashes, build_seconds, actor,
                          snapshot_at, built_at, status)
VALUES ($build_id, $gallery_id, $model_id, $model_sha256, $folder, $shards, $vectors, $recall, $candidate_floor,
        $floor_recall, $rank1_agreement, $exact_fallback, $params, $file_hashes, $build_seconds, $actor,
        $snapshot_at, $built_at, 'active');
