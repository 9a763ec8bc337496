SELECT request_id, case_number, offense_code, justification, gallery_id, probe_path, probe_sha256,
       requested_by, requested_at, decision, decided_by, decided_at, decision_reason, search_id,
       face_index, quality_override, requested_for
FROM requests WHERE request_id = ?;
