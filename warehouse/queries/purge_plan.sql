-- What a retention purge removes: faces removed from every gallery they were enrolled in,
-- the images left without faces, subjects left without enrolled faces, and the searches
-- whose sheets show a purged face. Temp tables, read by purge_apply.sql.
CREATE OR REPLACE TEMP TABLE purge_faces AS
SELECT face_id FROM enrollments GROUP BY face_id HAVING bool_and(removed_at IS NOT NULL)
INTERSECT
SELECT face_id FROM faces;
CREATE OR REPLACE TEMP TABLE purge_images AS
SELECT DISTINCT f.image_sha256 AS sha256 FROM faces f
WHERE f.face_id IN (SELECT face_id FROM purge_faces)
  AND NOT EXISTS (SELECT 1 FROM faces g WHERE g.image_sha256 = f.image_sha256
                                         AND g.face_id NOT IN (SELECT face_id FROM purge_faces));
CREATE OR REPLACE TEMP TABLE purge_subjects AS
SELECT subject_id FROM subjects
WHERE subject_id NOT IN (SELECT subject_id FROM enrollments WHERE removed_at IS NULL);
CREATE OR REPLACE TEMP TABLE purge_sheets AS
SELECT DISTINCT search_id FROM candidates WHERE face_id IN (SELECT face_id FROM purge_faces);
