-- Parameters: the fields of records.RequestRecord.
INSERT INTO requests (request_id, case_number, offense_code, justification, gallery_id, probe_path, probe_sha256,
                      requested_by, requested_at, face_index, quality_override, requested_for)
VALUES ($request_id, $case_number, $offense_code, $justification, $gallery_id, $probe_path, $probe_sha256,
        $requested_by, $requested_at, $face_index, $quality_override, $requested_for);
