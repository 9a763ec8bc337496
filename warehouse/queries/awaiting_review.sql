-- Searches whose analyst recorded a determination and no reviewer has, that $user_id did not run.
SELECT s.search_id, s.case_number, s.gallery_id, s.actor, s.created_at
FROM searches s
WHERE s.actor <> $user_id
  AND EXISTS (SELECT 1 FROM determinations d WHERE d.search_id = s.search_id AND d.stage = 'analyst')
  AND NOT EXISTS (SELECT 1 FROM determinations d WHERE d.search_id = s.search_id AND d.stage = 'reviewer')
ORDER BY s.created_at, s.search_id;
