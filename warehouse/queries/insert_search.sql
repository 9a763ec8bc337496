-- Parameters: the fields of records.SearchRecord.
INSERT INTO searches (search_id, request_id, case_number, gallery_id, model_id, detector_id, method, k, gallery_size,
                      index_build_id, search_params, delta_size, rank_ms,
                      probe_sha256, probe_path, probe_face_index, probe_face_count, probe_box, probe_thumbnail,
                      quality_check_id, quality_failures, quality_override, actor, created_at)
VALUES ($search_id, $request_id, $case_number, $gallery_id, $model_id, $detector_id, $method, $k, $gallery_size,
        $index_build_id, $search_params, $delta_size, $rank_ms,
        $probe_sha256, $probe_path, $probe_face_index, $probe_face_count, $probe_box, $probe_thumbnail,
        $quality_check_id, $quality_failures, $quality_override, $actor, $created_at);
