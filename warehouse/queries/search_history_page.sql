-- Searches matching the filters (NULL: any), newest first, at most $limit.
SELECT search_id, case_number, offense_code, requested_by, approved_by, searched_by, searched_at, gallery_id,
       quality_override, outcome, reviewer
FROM search_history
WHERE ($case_number IS NULL OR case_number = $case_number)
  AND ($analyst IS NULL OR searched_by = $analyst)
  AND ($offense_code IS NULL OR offense_code = $offense_code)
  AND ($start IS NULL OR searched_at >= $start)
  AND ($end IS NULL OR searched_at < $end)
ORDER BY searched_at DESC, search_id
LIMIT $limit;
