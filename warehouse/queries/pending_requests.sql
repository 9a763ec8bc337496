-- Requests awaiting a decision that $user_id did not file, oldest first.
SELECT request_id, case_number, offense_code, justification, gallery_id, requested_by, requested_at, face_index,
       quality_override, requested_for
FROM requests WHERE decision IS NULL AND requested_by <> $user_id
ORDER BY requested_at, request_id;
