SELECT request_id, case_number, offense_code, justification, gallery_id,
       regexp_extract(probe_path, '[^/]+$') AS probe_file, probe_sha256, requested_by,
       requested_at, decision, decided_by, decided_at, decision_reason, search_id
FROM requests WHERE case_number = ? ORDER BY requested_at;
