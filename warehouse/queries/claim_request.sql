-- An approved request allows one search: no row back means it is not approved or already ran.
UPDATE requests SET search_id = $search_id
WHERE request_id = $request_id AND decision = 'approved' AND search_id IS NULL
RETURNING request_id;
