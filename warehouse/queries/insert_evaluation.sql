INSERT INTO evaluations (evaluation_id, report_id, model_id, detector_id, dataset, dataset_sha256, images,
                         failures_to_enroll, metrics, report_dir, actor, created_at)
VALUES ($evaluation_id, $report_id, $model_id, $detector_id, $dataset, $dataset_sha256, $images,
        $failures_to_enroll, $metrics, $report_dir, $actor, $created_at);
