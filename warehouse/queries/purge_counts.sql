SELECT (SELECT count(*) FROM purge_faces) AS faces, (SELECT count(*) FROM purge_images) AS images,
       (SELECT count(*) FROM purge_subjects) AS subjects;
