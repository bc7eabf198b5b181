"""Settings read from CCELIM_* variables, with errors that name the variable."""

from __future__ import annotations

import pytest

from service.settings import Settings, SettingsError


def test_defaults_use_a_sqlite_file_in_the_data_dir():
    settings = Settings.from_env({"CCELIM_DATA_DIR": "/srv/ccelim"})
    assert settings.database_url == "sqlite:////srv/ccelim/ccelim.db"
    assert settings.ray_address is None
    assert settings.api_keys == ()
    assert settings.search_workers >= 1


def test_every_variable_is_read():
    settings = Settings.from_env(
        {
            "CCELIM_DATABASE_URL": "postgresql+psycopg://u:p@db/ccelim",
            "CCELIM_RAY_ADDRESS": "ray://head:10001",
            "CCELIM_API_KEYS": " a, b ,,c",
            "CCELIM_SYNC_BUDGET_S": "1.5",
            "CCELIM_DEFAULT_BUDGET_S": "1",
            "CCELIM_MAX_BUDGET_S": "30",
            "CCELIM_MAX_BODY_BYTES": "1000",
            "CCELIM_MAX_VERTICES": "50",
            "CCELIM_MODEL_PATH": "/models/net.ckpt",
            "CCELIM_SEARCH_WORKERS": "3",
            "CCELIM_INSTANCE": "replica-1",
        }
    )
    assert settings == Settings(
        database_url="postgresql+psycopg://u:p@db/ccelim",
        ray_address="ray://head:10001",
        api_keys=("a", "b", "c"),
        sync_budget_s=1.5,
        default_budget_s=1.0,
        max_budget_s=30.0,
        max_body_bytes=1000,
        max_vertices=50,
        model_path="/models/net.ckpt",
        search_workers=3,
        instance="replica-1",
    )


@pytest.mark.parametrize(
    "env, name",
    [
        ({"CCELIM_MAX_BUDGET_S": "lots"}, "CCELIM_MAX_BUDGET_S"),
        ({"CCELIM_MAX_VERTICES": "-5"}, "CCELIM_MAX_VERTICES"),
        ({"CCELIM_SYNC_BUDGET_S": "inf"}, "CCELIM_SYNC_BUDGET_S"),
        ({"CCELIM_DEFAULT_BUDGET_S": "100", "CCELIM_MAX_BUDGET_S": "10"}, "DEFAULT"),
        ({"CCELIM_SEARCH_WORKERS": "0"}, "CCELIM_SEARCH_WORKERS"),
    ],
)
def test_bad_values_name_the_variable(env, name):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(env)
