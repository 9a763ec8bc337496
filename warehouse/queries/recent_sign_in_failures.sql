-- Failures since $since for the claimed user from the address, from the address for any user,
-- and when the claimed user last failed from the address.
SELECT count(*) FILTER (WHERE claimed_user = $claimed_user AND address = $address) AS by_pair,
       count(*) FILTER (WHERE address = $address) AS by_address,
       max(failed_at) FILTER (WHERE claimed_user = $claimed_user AND address = $address) AS last_pair
FROM sign_in_failures WHERE failed_at >= $since;
