-- The probe files a request or search made since $cutoff still uses: the purge keeps these.
SELECT probe_path FROM requests WHERE requested_at >= $cutoff
UNION
SELECT probe_path FROM searches WHERE created_at >= $cutoff;
