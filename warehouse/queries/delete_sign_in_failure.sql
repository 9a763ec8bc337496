-- A sign-in counted as a failure before its secret was checked, which then matched.
DELETE FROM sign_in_failures WHERE claimed_user = $claimed_user AND address = $address AND failed_at = $failed_at;
