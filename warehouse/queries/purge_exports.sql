-- Case exports made after a search that returned a face being purged: those packets left
-- facelead holding the face, and the purge report names them.
SELECT DISTINCT a.seq AS audit_seq, a.logged_at AS exported_at, a.actor AS exported_by,
       substr(a.target, 6) AS case_number
FROM audit_log a
JOIN searches s ON a.target = 'case:' || s.case_number AND a.logged_at >= s.created_at
JOIN candidates c ON c.search_id = s.search_id
WHERE a.action = 'case.export' AND c.face_id IN (SELECT face_id FROM purge_faces)
ORDER BY audit_seq;
