-- The gallery's newest calibration's (any recogniser) closest subject pairs, each with its newest operator mark.
WITH newest AS (
    SELECT calibration_id FROM calibrations
    WHERE gallery_id = $gallery_id ORDER BY created_at DESC LIMIT 1
), marks AS (
    SELECT subject_a, subject_b, same_person, note, actor, marked_at,
           row_number() OVER (PARTITION BY subject_a, subject_b ORDER BY marked_at DESC) AS newest
    FROM subject_pair_marks WHERE gallery_id = $gallery_id
)
SELECT d.rank, d.subject_a, d.face_a, d.subject_b, d.face_b, d.score,
       m.same_person, m.note, m.actor AS marked_by, m.marked_at
FROM possible_duplicates d JOIN newest USING (calibration_id)
LEFT JOIN marks m ON m.subject_a = d.subject_a AND m.subject_b = d.subject_b AND m.newest = 1
ORDER BY d.rank;
