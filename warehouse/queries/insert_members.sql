-- Reads the registered Arrow relation `member_batch` (shard, row, face_id).
INSERT INTO index_members (build_id, shard, row, face_id) SELECT ?, shard, row, face_id FROM member_batch;
