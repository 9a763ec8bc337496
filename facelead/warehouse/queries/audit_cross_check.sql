-- The data tables held against the audit log: every record that the log must name and does
-- not, and every audit row that names a record that never existed. One line per problem.
WITH log AS (SELECT seq, action, target, details FROM audit_log)
SELECT 'user ' || u.user_id || ': no user.add audit row' AS problem FROM users u
WHERE NOT EXISTS (SELECT 1 FROM log WHERE action = 'user.add' AND target = 'user:' || u.user_id)
UNION ALL
SELECT 'user ' || u.user_id || ': disabled without a user.disable audit row' FROM users u
WHERE u.disabled_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM log WHERE action = 'user.disable' AND target = 'user:' || u.user_id)
UNION ALL
SELECT 'user ' || u.user_id || ': roles or certification differ from their last user.add or user.roles audit row'
FROM users u
JOIN (SELECT target, arg_max(details, seq) AS details FROM log
      WHERE action IN ('user.add', 'user.roles') GROUP BY target) granted ON granted.target = 'user:' || u.user_id
WHERE list_sort(u.roles) IS DISTINCT FROM from_json(json_extract(granted.details, '$.roles'), '["VARCHAR"]')
   OR CAST(u.certified_until AS VARCHAR) IS DISTINCT FROM json_extract_string(granted.details, '$.certified_until')
UNION ALL
SELECT 'request ' || r.request_id || ': no request.file audit row' FROM requests r
WHERE NOT EXISTS (SELECT 1 FROM log WHERE action = 'request.file' AND target = 'request:' || r.request_id)
UNION ALL
SELECT 'request ' || r.request_id || ': ' || r.decision || ' without its audit row' FROM requests r
WHERE r.decision IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM log WHERE target = 'request:' || r.request_id
                                      AND action = CASE r.decision WHEN 'approved' THEN 'request.approve'
                                                                   ELSE 'request.deny' END)
UNION ALL
SELECT 'search ' || s.search_id || ': no search.run audit row' FROM searches s
WHERE NOT EXISTS (SELECT 1 FROM log WHERE action = 'search.run' AND target = 'search:' || s.search_id)
UNION ALL
SELECT 'determination ' || d.search_id || '/' || d.stage || ': no determination audit row' FROM determinations d
WHERE NOT EXISTS (SELECT 1 FROM log WHERE action = 'determination' AND target = 'search:' || d.search_id
                                      AND json_extract_string(details, '$.stage') = d.stage)
UNION ALL
SELECT 'enrollment run ' || e.run_id || ': no enrollment.start audit row' FROM enrollment_runs e
WHERE NOT EXISTS (SELECT 1 FROM log WHERE action = 'enrollment.start'
                                      AND json_extract_string(details, '$.run_id') = e.run_id)
UNION ALL
SELECT 'removal ' || e.gallery_id || '/' || e.subject_id || ': no enrollment.remove audit row'
FROM (SELECT DISTINCT gallery_id, subject_id FROM enrollments WHERE removed_at IS NOT NULL AND subject_id <> '') e
WHERE NOT EXISTS (SELECT 1 FROM log WHERE action = 'enrollment.remove' AND target = 'gallery:' || e.gallery_id
                                      AND json_extract_string(details, '$.subject_id') = e.subject_id)
UNION ALL
SELECT 'index build ' || b.build_id || ': no index.build audit row' FROM index_builds b
WHERE NOT EXISTS (SELECT 1 FROM log WHERE action = 'index.build'
                                      AND json_extract_string(details, '$.build_id') = b.build_id)
UNION ALL
SELECT 'evaluation ' || v.evaluation_id || ': no evaluation.run audit row' FROM evaluations v
WHERE NOT EXISTS (SELECT 1 FROM log WHERE action = 'evaluation.run'
                                      AND json_extract_string(details, '$.evaluation_id') = v.evaluation_id)
UNION ALL
SELECT 'calibration ' || c.calibration_id || ': no calibration.gallery audit row' FROM calibrations c
WHERE c.gallery_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM log WHERE action = 'calibration.gallery'
                                      AND json_extract_string(details, '$.calibration_id') = c.calibration_id)
UNION ALL
SELECT 'pair mark ' || m.gallery_id || '/' || m.subject_a || '/' || m.subject_b || ': no calibration.mark audit row'
FROM subject_pair_marks m
WHERE NOT EXISTS (SELECT 1 FROM log WHERE action = 'calibration.mark' AND target = 'gallery:' || m.gallery_id
                                      AND json_extract_string(details, '$.subject_a') = m.subject_a
                                      AND json_extract_string(details, '$.subject_b') = m.subject_b)
UNION ALL
SELECT 'subject attributes of run ' || a.run_id || ': no enrollment.attributes audit row'
FROM (SELECT DISTINCT gallery_id, run_id FROM subject_attributes) a
WHERE NOT EXISTS (SELECT 1 FROM log WHERE action = 'enrollment.attributes' AND target = 'gallery:' || a.gallery_id
                                      AND json_extract_string(details, '$.run_id') = a.run_id)
UNION ALL
SELECT 'purged images: ' || (SELECT count(*) FROM purged_images) || ' recorded, '
       || coalesce(sum(json_extract(details, '$.images')::BIGINT), 0) || ' audited by retention.purge'
FROM log WHERE action = 'retention.purge'
HAVING coalesce(sum(json_extract(details, '$.images')::BIGINT), 0) <> (SELECT count(*) FROM purged_images)
UNION ALL
SELECT 'audit row ' || seq || ': ' || action || ' names ' || target || ', which does not exist' FROM log
WHERE (action = 'user.add' AND substr(target, 6) NOT IN (SELECT user_id FROM users))
   OR (action = 'request.file' AND substr(target, 9) NOT IN (SELECT request_id FROM requests))
   OR (action IN ('request.approve', 'request.deny')
       AND substr(target, 9) NOT IN (SELECT request_id FROM requests WHERE decision IS NOT NULL))
   OR (action = 'search.run' AND substr(target, 8) NOT IN (SELECT search_id FROM searches))
   OR (action = 'determination'
       AND NOT EXISTS (SELECT 1 FROM determinations d WHERE d.search_id = substr(log.target, 8)
                                                        AND d.stage = json_extract_string(log.details, '$.stage')))
   OR (action IN ('sheet.write', 'sheet.view') AND substr(target, 8) NOT IN (SELECT search_id FROM searches))
   OR (action = 'index.build' AND json_extract_string(details, '$.build_id') NOT IN (SELECT build_id FROM index_builds))
   OR (action = 'enrollment.start'
       AND json_extract_string(details, '$.run_id') NOT IN (SELECT run_id FROM enrollment_runs))
   OR (action = 'evaluation.run'
       AND json_extract_string(details, '$.evaluation_id') NOT IN (SELECT evaluation_id FROM evaluations))
   OR (action = 'calibration.gallery'
       AND json_extract_string(details, '$.calibration_id') NOT IN (SELECT calibration_id FROM calibrations))
ORDER BY problem;
