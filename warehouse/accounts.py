"""People in the warehouse: users, their secrets' hashes, failed sign-ins and spent grants."""

from __future__ import annotations

from datetime import date, datetime

import duckdb

from warehouse.records import StoredUser, UserListing, UserRecord, parameters
from warehouse.sql import now, one, query, records


def count_users(conn: duckdb.DuckDBPyConnection) -> int:
    return conn.execute(query("count_users")).fetchone()[0]


def insert_user(conn: duckdb.DuckDBPyConnection, record: UserRecord) -> None:
    conn.execute(query("insert_user"), parameters(record))


def get_user(conn: duckdb.DuckDBPyConnection, user_id: str) -> StoredUser | None:
    row = one(conn.execute(query("get_user"), [user_id]))
    return None if row is None else StoredUser(**row)


def list_users(conn: duckdb.DuckDBPyConnection) -> list[UserListing]:
    return records(conn.execute(query("list_users")), UserListing)


def set_secret(conn: duckdb.DuckDBPyConnection, user_id: str, salt: bytes, hashed: bytes) -> bool:
    """Store the user's own secret and spend their enrollment code; False if no enabled user."""
    return conn.execute(query("set_secret"), {"user_id": user_id, "salt": salt, "hash": hashed, "at": now()}
                        ).fetchone() is not None


def set_enrollment_code(conn: duckdb.DuckDBPyConnection, user_id: str, salt: bytes, hashed: bytes,
                        expires_at: datetime) -> bool:
    """A fresh enrollment code for the user, whose secret stops working; False if no enabled user."""
    return conn.execute(query("set_enrollment_code"), {
        "user_id": user_id, "salt": salt, "hash": hashed, "expires_at": expires_at}).fetchone() is not None


def record_sign_in_failure(conn: duckdb.DuckDBPyConnection, claimed_user: str, address: str) -> datetime:
    """Count one failed sign-in now; returns its time (``forget_sign_in_failure`` takes it)."""
    failed_at = now()
    conn.execute(query("insert_sign_in_failure"), [claimed_user, address, failed_at])
    return failed_at


def forget_sign_in_failure(conn: duckdb.DuckDBPyConnection, claimed_user: str, address: str,
                           failed_at: datetime) -> None:
    """Take back a failure counted before its secret was checked, once the secret matched."""
    conn.execute(query("delete_sign_in_failure"),
                 {"claimed_user": claimed_user, "address": address, "failed_at": failed_at})


def recent_sign_in_failures(conn: duckdb.DuckDBPyConnection, claimed_user: str, address: str,
                            since: datetime) -> tuple[int, int, datetime | None]:
    """(failures for the claimed user from the address, failures from the address, the
    pair's last failure) since ``since``."""
    return conn.execute(query("recent_sign_in_failures"), {
        "claimed_user": claimed_user, "address": address, "since": since}).fetchone()


def spend_grant(conn: duckdb.DuckDBPyConnection, nonce: str, user_id: str, action: str) -> bool:
    """Mark a grant spent; False if it was spent before (a replay)."""
    return conn.execute(query("spend_grant"), [nonce, user_id, action, now()]).fetchone() is not None


def set_user_roles(conn: duckdb.DuckDBPyConnection, user_id: str, roles: list[str],
                   certified_until: date | None) -> bool:
    """Replace an enabled user's roles and certification; False if no enabled user."""
    return conn.execute(query("set_user_roles"), {"user_id": user_id, "roles": roles,
                                                  "certified_until": certified_until}).fetchone() is not None


def disable_user(conn: duckdb.DuckDBPyConnection, user_id: str) -> bool:
    """True if the user was enabled and now is not."""
    return conn.execute(query("disable_user"), [now(), user_id]).fetchone() is not None
