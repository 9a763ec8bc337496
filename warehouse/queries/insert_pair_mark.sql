INSERT INTO subject_pair_marks (gallery_id, subject_a, subject_b, same_person, note, actor, marked_at)
VALUES ($gallery_id, $subject_a, $subject_b, $same_person, $note, $actor, $marked_at);
