-- Probe images kept with searches made before the cutoff: the thumbnail is emptied.
UPDATE searches SET probe_thumbnail = ''::BLOB
WHERE created_at < ? AND octet_length(probe_thumbnail) > 0
RETURNING search_id;
