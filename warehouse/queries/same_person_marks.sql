-- Subject pairs of a gallery whose newest mark says they are the same person.
SELECT subject_a, subject_b FROM (
    SELECT subject_a, subject_b, same_person,
           row_number() OVER (PARTITION BY subject_a, subject_b ORDER BY marked_at DESC) AS newest
    FROM subject_pair_marks WHERE gallery_id = $gallery_id
) WHERE newest = 1 AND same_person
ORDER BY subject_a, subject_b;
