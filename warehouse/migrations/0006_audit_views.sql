-- Read-only views for auditors (documented in the README).

-- Each search with the request behind it, who asked, approved and ran it, and its review.
CREATE VIEW review_outcomes AS
SELECT s.search_id,
       a.user_id AS analyst, a.face_id AS analyst_face_id, a.recorded_at AS analyst_at,
       r.user_id AS reviewer, r.face_id AS reviewer_face_id, r.recorded_at AS reviewer_at,
       CASE WHEN a.search_id IS NULL THEN 'awaiting determination'
            WHEN r.search_id IS NULL THEN 'awaiting review'
            WHEN a.face_id IS NOT DISTINCT FROM r.face_id THEN 'released'
            ELSE 'disputed' END AS outcome,
       a.search_id IS NOT NULL AND r.search_id IS NOT NULL AND a.face_id IS NULL AND r.face_id IS NULL AS no_candidate
FROM searches s
LEFT JOIN determinations a ON a.search_id = s.search_id AND a.stage = 'analyst'
LEFT JOIN determinations r ON r.search_id = s.search_id AND r.stage = 'reviewer';

CREATE VIEW search_history AS
SELECT s.search_id, s.case_number, q.offense_code, q.request_id, q.requested_by, q.requested_at,
       q.decided_by AS approved_by, q.decided_at AS approved_at, s.actor AS searched_by, s.created_at AS searched_at,
       s.gallery_id, s.gallery_size, s.method, s.index_build_id, s.k, s.model_id,
       s.quality_failures, s.quality_override, o.outcome, o.analyst, o.reviewer
FROM searches s
LEFT JOIN requests q ON q.request_id = s.request_id
JOIN review_outcomes o ON o.search_id = s.search_id;
