-- Only a pending request can be decided; no row back means it was decided already.
UPDATE requests SET decision = $decision, decided_by = $decided_by, decided_at = $decided_at,
                    decision_reason = $decision_reason
WHERE request_id = $request_id AND decision IS NULL
RETURNING request_id;
