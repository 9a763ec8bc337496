-- Reads the registered Arrow relation `refused_batch`.
INSERT INTO refusals (gallery_id, model_id, source_path, sha256, subject_id, reason, detail, run_id, refused_at)
SELECT gallery_id, model_id, source_path, sha256, subject_id, reason, detail, run_id, current_timestamp
FROM refused_batch ON CONFLICT DO NOTHING;
