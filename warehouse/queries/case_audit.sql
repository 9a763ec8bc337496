-- Audit rows about the case, its requests and its searches, in chain order.
SELECT seq, logged_at, actor, action, target, details, prev_hash, row_hash FROM audit_log
WHERE target = 'case:' || $case_number
   OR target IN (SELECT 'request:' || request_id FROM requests WHERE case_number = $case_number)
   OR target IN (SELECT 'search:' || search_id FROM searches WHERE case_number = $case_number)
ORDER BY seq;
