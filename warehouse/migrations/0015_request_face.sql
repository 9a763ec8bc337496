-- The probe face a request asks to search (detector order, from 0) and, where that face is
-- below the probe quality bar, why it must be searched anyway: chosen when the request is
-- filed, so the supervisor approves the search of that face. NULL: chosen when it runs.
ALTER TABLE requests ADD COLUMN face_index INTEGER;
ALTER TABLE requests ADD COLUMN quality_override VARCHAR;

-- Who asked for the search (a detective with the requester role): the one person shown the
-- released lead. NULL: nobody outside the unit.
ALTER TABLE requests ADD COLUMN requested_for VARCHAR;
