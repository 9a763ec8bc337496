UPDATE enrollment_runs
SET finished_at = ?, images_seen = ?, enrolled = ?, duplicates = ?, refused = ?
WHERE run_id = ?;
