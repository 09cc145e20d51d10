from __future__ import annotations

from pathlib import Path

import pytest

from photolab_widgets.config import OSS_TEST_BUCKET, Settings, redact_url


def test_embedded_defaults_live_under_home(tmp_path: Path):
    s = Settings.from_env({"PHOTOLAB_HOME": str(tmp_path)})
    assert s.home == tmp_path
    assert s.database_url == f"sqlite:///{tmp_path.resolve()}/photolab.db"
    assert s.broker_url == "filesystem://"
    assert s.result_backend.startswith("db+sqlite:///")
    assert s.image_base_url == (tmp_path / "images").resolve().as_uri() + "/"
    assert s.images_dir == (tmp_path / "images").resolve()


def test_configured_database_defaults_images_to_the_oss_bucket(tmp_path: Path):
    env = {
        "PHOTOLAB_HOME": str(tmp_path),
        "PHOTOLAB_DATABASE_URL": "mysql+pymysql://u:p@h/db",
    }
    s = Settings.from_env(env)
    assert s.image_base_url == OSS_TEST_BUCKET
    assert s.images_dir is None


def test_keywords_override_the_environment(tmp_path: Path):
    env = {"PHOTOLAB_HOME": str(tmp_path), "PHOTOLAB_BROKER_URL": "redis://env"}
    s = Settings.from_env(env, broker_url="redis://kw", image_base_url="https://x/")
    assert s.broker_url == "redis://kw"
    assert s.image_base_url == "https://x/"


def test_unknown_override_is_refused():
    with pytest.raises(TypeError, match="unknown setting"):
        Settings.from_env({}, databse_url="x")


def test_passwords_are_redacted():
    assert "s3cret" not in redact_url("mysql+pymysql://root:s3cret@db:3306/studio")
    assert "***" in redact_url("mysql+pymysql://root:s3cret@db:3306/studio")
