SELECT 'images' AS "table", count(*) AS "rows" FROM images
UNION ALL SELECT 'faces', count(*) FROM faces
UNION ALL SELECT 'embeddings', count(*) FROM embeddings
UNION ALL SELECT 'enrollments', count(*) FROM enrollments
UNION ALL SELECT 'refusals', count(*) FROM refusals
UNION ALL SELECT 'subjects', count(*) FROM subjects
UNION ALL SELECT 'searches', count(*) FROM searches
UNION ALL SELECT 'candidates', count(*) FROM candidates
UNION ALL SELECT 'audit_log', count(*) FROM audit_log;
