-- Failures since $since for the claimed user, and from the address.
SELECT count(*) FILTER (WHERE claimed_user = $claimed_user) AS by_user,
       count(*) FILTER (WHERE address = $address) AS by_address
FROM sign_in_failures WHERE failed_at >= $since;
