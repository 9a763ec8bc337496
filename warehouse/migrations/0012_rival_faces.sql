-- The gallery bar refuses a photo whose subject is ambiguous (another face nearly as
-- prominent as the chosen one), not every photo with a background face: each check
-- records how many faces competed. NULL for checks made before this was measured.
ALTER TABLE quality_validations ADD COLUMN rival_faces INTEGER;
