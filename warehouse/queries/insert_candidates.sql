-- Reads the registered Arrow relation `candidate_batch` (db.CANDIDATE_SCHEMA: records.CandidateRecord's fields).
INSERT INTO candidates (search_id, rank, face_id, subject_id, score)
SELECT search_id, rank, face_id, subject_id, score FROM candidate_batch;
