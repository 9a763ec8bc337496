-- Who ran each search of a case whose analyst has determined and whose review is not recorded yet.
SELECT s.actor
FROM searches s
JOIN determinations a ON a.search_id = s.search_id AND a.stage = 'analyst'
LEFT JOIN determinations r ON r.search_id = s.search_id AND r.stage = 'reviewer'
WHERE s.case_number = ? AND r.search_id IS NULL;
