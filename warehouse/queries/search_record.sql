-- What a re-run needs of a past search: how it ran, on what, and what it returned.
SELECT s.search_id, s.case_number, s.gallery_id, s.model_id, s.detector_id, s.method, s.index_build_id,
       s.search_params, s.k, s.probe_path, s.probe_sha256, s.probe_face_index, s.created_at, s.actor AS ran_by,
       coalesce((SELECT map_from_entries(list((d.stage, d.user_id))) FROM determinations d
                 WHERE d.search_id = s.search_id), MAP {}) AS determiners,
       list(struct_pack(rank := c.rank, face_id := c.face_id, score := c.score) ORDER BY c.rank) AS candidates
FROM searches s JOIN candidates c USING (search_id)
WHERE s.search_id = ?
GROUP BY ALL;
