INSERT INTO enrollment_runs (run_id, gallery_id, model_id, input, actor, started_at) VALUES (?, ?, ?, ?, ?, ?);
