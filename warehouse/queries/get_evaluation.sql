SELECT * FROM evaluations WHERE evaluation_id = ?;
