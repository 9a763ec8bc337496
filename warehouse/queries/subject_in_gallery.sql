-- Whether a subject has (or had) any face in a gallery.
SELECT count(*) > 0 FROM enrollments WHERE gallery_id = $gallery_id AND subject_id = $subject_id;
