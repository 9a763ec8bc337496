-- Each subject's newest value of attribute $name in a gallery.
SELECT subject_id, value FROM (
    SELECT subject_id, value,
           row_number() OVER (PARTITION BY subject_id ORDER BY recorded_at DESC) AS newest
    FROM subject_attributes WHERE gallery_id = $gallery_id AND name = $name
) WHERE newest = 1;
