"""Flow runs under a lesser account: the keys stay the service's (pure rules and file modes)."""

import os
import time

import pytest

from facelead import grants
from facelead.files import ForeignKeyFolder, secret_key, shared_with_runs, write_private
from facelead.operations import SERVICE_ONLY, RunAccount, as_account, run_account, share_data
from facelead.settings import Settings


def test_a_grant_is_made_with_the_private_key_and_checked_with_the_public_key_alone():
    private, other = bytes(range(32)), bytes(32)
    token = grants.issue(private, "analyst.a", "search", {"q": 1}, 60, time.time())
    public = grants.public_key(private)
    assert grants.verify(public, token, "search", {"q": 1}, time.time()).user_id == "analyst.a"
    for forged in (grants.issue(other, "analyst.a", "search", {"q": 1}, 60, time.time()),  # another key
                   token.replace(token.split(".")[0], grants.issue(private, "admin.a", "search", {"q": 1}, 60,
                                                                     time.time()).split(".")[0]),  # payload swapped
                   token[:-2] + ("00" if token[-2:] != "00" else "11"), token.split(".")[0] + ".zz", "garbage"):
        with pytest.raises(grants.GrantRefused) as refused:
            grants.verify(public, forged, "search", {"q": 1}, time.time())
        assert refused.value.reason == "grant_invalid"
    assert grants.verifying_key(public.hex(), "/nowhere") == public


def test_a_missing_private_key_makes_no_grant_and_checks_none(tmp_path):
    with pytest.raises(grants.GrantRefused) as refused:
        grants.verifying_key("", tmp_path / "secrets" / "grant.key")
    assert refused.value.reason == "no_grant_key"


def test_files_in_a_folder_shared_with_the_runs_are_theirs_to_use_and_elsewhere_owner_only(tmp_path):
    private = write_private(tmp_path / "own" / "probe.jpg", b"x")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o2770)
    kept = write_private(shared / "probes" / "probe.jpg", b"x")
    assert private.stat().st_mode & 0o777 == 0o600 and private.parent.stat().st_mode & 0o777 == 0o700
    assert kept.stat().st_mode & 0o777 == 0o660 and shared_with_runs(kept.parent)
    assert not shared_with_runs(private.parent)


def test_a_key_is_taken_only_from_the_account_s_own_owner_only_folder(tmp_path):
    key = secret_key(tmp_path / "secrets" / "k.key", create=True)
    assert secret_key(tmp_path / "secrets" / "k.key", create=False) == key
    (tmp_path / "secrets").chmod(0o770)  # a folder someone else may enter or have swapped in
    with pytest.raises(ForeignKeyFolder, match="owner-only"):
        secret_key(tmp_path / "secrets" / "k.key", create=False)


def test_the_runs_account_must_exist_and_be_lesser():
    with pytest.raises(ValueError, match="no such account"):
        run_account("no-such-account-here")
    with pytest.raises(ValueError, match="lesser account"):
        run_account("root")


def test_the_worker_starts_as_the_runs_account_directly_as_root_and_through_sudo_otherwise():
    account, argv, env = RunAccount("facelead-runs", 999, 998), ["python", "-m", "prefect"], {"A": "1"}
    direct = as_account(argv, env, account, euid=0)
    assert direct == {"args": argv, "env": env, "user": 999, "group": 998, "extra_groups": [], "umask": 0o007}
    sudo = as_account(argv, env, account, euid=1000)["args"]
    assert sudo[:5] == ["sudo", "-n", "-u", "facelead-runs", "--"] and sudo[5:8] == ["env", "-i", "A=1"]
    assert sudo[-3:] == argv and "umask 007" in " ".join(sudo)


def test_serve_shares_the_data_folder_with_the_runs_group_but_never_the_keys(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    for path in ("facelead.duckdb", "probes/p.jpg", "indexes/b1/shard.npy", "secrets/grant.key",
                 "prefect/profiles.toml", "audit/snapshot.duckdb"):
        write_private(settings.data_dir / path, b"x")
    home = share_data(settings, RunAccount("me", os.getuid(), os.getgid()))
    data = settings.data_dir
    assert data.stat().st_mode & 0o7777 == 0o2770 and home == data / "runs" and shared_with_runs(home)
    for path in ("facelead.duckdb", "probes/p.jpg", "indexes/b1/shard.npy"):
        assert (data / path).stat().st_mode & 0o777 == 0o660, path
    for folder in ("probes", "indexes", "indexes/b1"):
        assert shared_with_runs(data / folder), folder
    for name in SERVICE_ONLY:
        assert (data / name).stat().st_mode & 0o7777 == 0o700, name
    assert (data / "secrets/grant.key").stat().st_mode & 0o777 == 0o600
