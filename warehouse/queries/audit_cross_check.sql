-- The data tables held against the audit log: every record that the log must name and does
-- not, and every audit row that names a record that never existed. One line per problem.
-- An audit row names its record by its action, its target (the actions listed first below
-- name records of many targets, and match on the key alone) and the key its details hold;
-- each record the log must name is one row of `owed`, and every match is on equal values.
WITH log AS (
    SELECT seq, action, target, details,
           CASE WHEN action IN ('enrollment.start', 'index.build', 'evaluation.run', 'calibration.gallery') THEN ''
                ELSE target END AS record_target,
           CASE action
               WHEN 'determination' THEN json_extract_string(details, '$.stage')
               WHEN 'enrollment.start' THEN json_extract_string(details, '$.run_id')
               WHEN 'enrollment.remove' THEN json_extract_string(details, '$.subject_id')
               WHEN 'enrollment.attributes' THEN json_extract_string(details, '$.run_id')
               WHEN 'index.build' THEN json_extract_string(details, '$.build_id')
               WHEN 'evaluation.run' THEN json_extract_string(details, '$.evaluation_id')
               WHEN 'calibration.gallery' THEN json_extract_string(details, '$.calibration_id')
               WHEN 'calibration.mark' THEN json_array(json_extract_string(details, '$.subject_a'),
                                                       json_extract_string(details, '$.subject_b'))::VARCHAR
               ELSE '' END AS record_key
    FROM audit_log),
owed(problem, action, target, key) AS (
    SELECT 'user ' || user_id || ': no user.add audit row', 'user.add', 'user:' || user_id, '' FROM users
    UNION ALL
    SELECT 'user ' || user_id || ': disabled without a user.disable audit row', 'user.disable', 'user:' || user_id, ''
    FROM users WHERE disabled_at IS NOT NULL
    UNION ALL
    SELECT 'request ' || request_id || ': no request.file audit row', 'request.file', 'request:' || request_id, ''
    FROM requests
    UNION ALL
    SELECT 'request ' || request_id || ': ' || decision || ' without its audit row',
           CASE decision WHEN 'approved' THEN 'request.approve' ELSE 'request.deny' END, 'request:' || request_id, ''
    FROM requests WHERE decision IS NOT NULL
    UNION ALL
    SELECT 'search ' || search_id || ': no search.run audit row', 'search.run', 'search:' || search_id, ''
    FROM searches
    UNION ALL
    SELECT 'determination ' || search_id || '/' || stage || ': no determination audit row', 'determination',
           'search:' || search_id, stage
    FROM determinations
    UNION ALL
    SELECT 'enrollment run ' || run_id || ': no enrollment.start audit row', 'enrollment.start', '', run_id
    FROM enrollment_runs
    UNION ALL
    SELECT 'removal ' || gallery_id || '/' || subject_id || ': no enrollment.remove audit row', 'enrollment.remove',
           'gallery:' || gallery_id, subject_id
    FROM (SELECT DISTINCT gallery_id, subject_id FROM enrollments WHERE removed_at IS NOT NULL AND subject_id <> '')
    UNION ALL
    SELECT 'index build ' || build_id || ': no index.build audit row', 'index.build', '', build_id FROM index_builds
    UNION ALL
    SELECT 'evaluation ' || evaluation_id || ': no evaluation.run audit row', 'evaluation.run', '', evaluation_id
    FROM evaluations
    UNION ALL
    SELECT 'calibration ' || calibration_id || ': no calibration.gallery audit row', 'calibration.gallery', '',
           calibration_id
    FROM calibrations WHERE gallery_id IS NOT NULL
    UNION ALL
    SELECT 'pair mark ' || gallery_id || '/' || subject_a || '/' || subject_b || ': no calibration.mark audit row',
           'calibration.mark', 'gallery:' || gallery_id, json_array(subject_a, subject_b)::VARCHAR
    FROM subject_pair_marks
    UNION ALL
    SELECT 'subject attributes of run ' || run_id || ': no enrollment.attributes audit row', 'enrollment.attributes',
           'gallery:' || gallery_id, run_id
    FROM (SELECT DISTINCT gallery_id, run_id FROM subject_attributes)
)
SELECT problem FROM owed o
WHERE NOT EXISTS (SELECT 1 FROM log WHERE log.action = o.action AND log.record_target = o.target
                                      AND log.record_key = o.key)
UNION ALL
SELECT 'user ' || u.user_id || ': roles or certification differ from their last user.add or user.roles audit row'
FROM users u
JOIN (SELECT target, arg_max(details, seq) AS details FROM log
      WHERE action IN ('user.add', 'user.roles') GROUP BY target) granted ON granted.target = 'user:' || u.user_id
WHERE list_sort(u.roles) IS DISTINCT FROM from_json(json_extract(granted.details, '$.roles'), '["VARCHAR"]')
   OR CAST(u.certified_until AS VARCHAR) IS DISTINCT FROM json_extract_string(granted.details, '$.certified_until')
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
