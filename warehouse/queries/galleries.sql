SELECT gallery_id FROM galleries ORDER BY gallery_id;
