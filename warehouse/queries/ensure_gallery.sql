INSERT INTO galleries (gallery_id, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING;
