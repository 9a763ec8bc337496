INSERT INTO models (model_id, manifest_id, role, sha256, output_dim, licence, registered_at)
VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING;
