from pathlib import Path

import pytest
from pydantic import ValidationError

from facelead.settings import Settings, _cores


def test_environment_overrides_nested_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("FACELEAD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FACELEAD_DASK__ADDRESS", "tcp://10.0.0.5:8786")
    monkeypatch.setenv("FACELEAD_MODELS__DETECTOR_SCORE", "0.8")
    settings = Settings()
    assert settings.dask.address == "tcp://10.0.0.5:8786" and settings.models.detector_score == 0.8
    assert settings.database_path == tmp_path / "facelead.duckdb"
    assert settings.model_cache == tmp_path / "models"


def test_explicit_database_wins(monkeypatch):
    monkeypatch.setenv("FACELEAD_DATABASE", "/srv/x.duckdb")
    assert Settings().database_path == Path("/srv/x.duckdb")


def test_oversubscribing_cores_is_refused_naming_the_variables(monkeypatch):
    monkeypatch.setenv("FACELEAD_DASK__WORKERS", str(_cores()))
    monkeypatch.setenv("FACELEAD_MODELS__THREADS", "2")
    with pytest.raises(ValidationError, match="FACELEAD_DASK__WORKERS.*FACELEAD_MODELS__THREADS"):
        Settings()


def test_a_remote_cluster_is_not_limited_by_local_cores(monkeypatch):
    monkeypatch.setenv("FACELEAD_DASK__ADDRESS", "tcp://scheduler:8786")
    monkeypatch.setenv("FACELEAD_DASK__WORKERS", str(_cores() * 4))
    assert Settings().dask.workers == _cores() * 4


def test_batch_size_gives_each_worker_a_few_large_tasks(monkeypatch):
    monkeypatch.setenv("FACELEAD_DASK__ADDRESS", "tcp://scheduler:8786")
    monkeypatch.setenv("FACELEAD_DASK__WORKERS", "2")
    monkeypatch.delenv("FACELEAD_DASK__IMAGES_PER_TASK", raising=False)
    dask = Settings().dask
    assert dask.batch_size(1200) == 150
    assert dask.batch_size(5) == 1
    assert dask.batch_size(1_000_000) == 256
    monkeypatch.setenv("FACELEAD_DASK__IMAGES_PER_TASK", "10")
    assert Settings().dask.batch_size(1200) == 10


def test_one_quality_limit_can_be_changed_alone(monkeypatch):
    monkeypatch.setenv("FACELEAD_QUALITY__GALLERY__MIN_INTER_EYE_PX", "90")
    monkeypatch.setenv("FACELEAD_QUALITY__PROBE__MAX_FACES", "3")
    quality, defaults = Settings().quality, Settings.model_fields["quality"].default
    assert quality.gallery.min_inter_eye_px == 90 and quality.probe.max_faces == 3
    assert quality.gallery.model_copy(update={"min_inter_eye_px": defaults.gallery.min_inter_eye_px}) == defaults.gallery
    assert quality.probe.min_sharpness == defaults.probe.min_sharpness


def test_the_gallery_bar_is_stricter_than_the_probe_bar():
    quality = Settings().quality
    assert quality.gallery.max_rival_faces == 0 and quality.probe.max_rival_faces is None
    assert quality.gallery.max_faces is None  # a bystander in the background does not refuse a photo
    assert quality.gallery.min_inter_eye_px > quality.probe.min_inter_eye_px
    assert quality.gallery.min_sharpness > quality.probe.min_sharpness


def test_flow_modules_import_with_a_bad_setting_and_the_run_that_reads_it_fails_naming_it(monkeypatch):
    import subprocess
    import sys

    from pydantic import ValidationError

    from flows.runtime import FaceleadDaskTaskRunner

    env = {**__import__("os").environ, "FACELEAD_DASK__WORKERS": "many"}
    imported = subprocess.run([sys.executable, "-c", "import flows.enroll_gallery, flows.build_index, "
                               "flows.evaluate"], env=env, capture_output=True, text=True, timeout=300)
    assert imported.returncode == 0, imported.stderr[-2000:]
    monkeypatch.setenv("FACELEAD_DASK__WORKERS", "many")
    with pytest.raises(ValidationError, match="workers"):
        FaceleadDaskTaskRunner().duplicate().__enter__()  # as a flow run enters its runner


def test_settings_in_force_replace_the_environment_s_inside_the_block_only(monkeypatch, tmp_path):
    from facelead.settings import current_settings, in_force

    monkeypatch.setenv("FACELEAD_DATA_DIR", str(tmp_path / "env"))
    given = Settings().replaced(database=tmp_path / "given" / "x.duckdb")
    with in_force(given):
        assert current_settings() is given
        with in_force(given.replaced(data_dir=tmp_path / "inner")):
            assert current_settings().data_dir == tmp_path / "inner"
        assert current_settings() is given
    assert current_settings().database_path == tmp_path / "env" / "facelead.duckdb"


def test_replaced_changes_only_what_it_names_and_works_out_the_paths_again(monkeypatch, tmp_path):
    monkeypatch.setenv("FACELEAD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FACELEAD_SERVICE__HOST", "10.1.2.3")
    settings = Settings()
    assert settings.index_dir == tmp_path / "indexes"  # worked out, and cached, before the copy
    copy = settings.replaced(database=tmp_path / "demo" / "d.duckdb", service={"port": 8471})
    assert (copy.service.host, copy.service.port) == ("10.1.2.3", 8471)
    assert copy.index_dir == tmp_path / "demo" / "indexes" and settings.index_dir == tmp_path / "indexes"
    with pytest.raises(ValidationError):
        settings.replaced(service={"port": "not a port"})
