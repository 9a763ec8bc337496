-- Requests filed in [$start, $end) by offense code, what became of them and of their searches.
SELECT q.offense_code,
       count(*) AS requests,
       count(*) FILTER (WHERE q.decision = 'approved') AS approved,
       count(*) FILTER (WHERE q.decision = 'denied') AS denied,
       count(*) FILTER (WHERE q.decision IS NULL) AS pending,
       count(s.search_id) AS searches,
       count(*) FILTER (WHERE s.quality_override IS NOT NULL) AS quality_overrides,
       count(*) FILTER (WHERE o.outcome = 'released') AS released,
       count(*) FILTER (WHERE o.outcome = 'released' AND o.no_candidate) AS released_no_candidate,
       count(*) FILTER (WHERE o.outcome = 'disputed') AS disputed,
       count(*) FILTER (WHERE o.outcome IN ('awaiting determination', 'awaiting review')) AS awaiting_review
FROM requests q
LEFT JOIN searches s ON s.search_id = q.search_id
LEFT JOIN review_outcomes o ON o.search_id = s.search_id
WHERE q.requested_at >= $start AND q.requested_at < $end
GROUP BY q.offense_code
ORDER BY q.offense_code;
