"""Settings: one frozen value, from keywords, the environment or a TOML file."""

from __future__ import annotations

import pytest

from waitpoint import Settings, Waitpoint


def test_keywords_override_the_settings_they_are_given_with():
    base = Settings(queues={"mail": 3}, shutdown_grace=30.0)
    instance = Waitpoint(settings=base, shutdown_grace=5.0, schema="other")
    assert instance.settings.queues == {"mail": 3}
    assert instance.settings.shutdown_grace == 5.0
    assert instance.schema == "other"
    assert base.shutdown_grace == 30.0  # frozen: the original is untouched


def test_from_env_reads_typed_values():
    settings = Settings.from_env({"WAITPOINT_QUEUES": "default=4, mail=2",
                                  "WAITPOINT_SHUTDOWN_GRACE": "2.5",
                                  "WAITPOINT_SYNCHRONOUS_ACKS": "true",
                                  "WAITPOINT_POOL_SIZE": "3", "UNRELATED": "x"})
    assert settings.queues == {"default": 4, "mail": 2}
    assert settings.shutdown_grace == 2.5
    assert settings.synchronous_acks is True
    assert settings.pool_size == 3


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("WAITPOINT_POOL_SIZE", "many", "environment: pool_size"),
    ("WAITPOINT_PEER", "maybe", "environment: peer: expected true or false"),
    ("WAITPOINT_QUEUES", "mail=0", "LIMIT >= 1"),
    ("WAITPOINT_SCHEMA", "bad; drop", "schema"),
])
def test_a_bad_environment_value_names_the_setting(variable, value, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env({variable: value})


def test_from_toml_reads_the_waitpoint_table(tmp_path):
    path = tmp_path / "waitpoint.toml"
    path.write_text('[waitpoint]\nschema = "jobs"\nprune_after = 3600\n'
                    '[waitpoint.queues]\ndefault = 5\nmedia = 2\n')
    settings = Settings.from_toml(path)
    assert (settings.schema, settings.prune_after) == ("jobs", 3600)
    assert settings.queues == {"default": 5, "media": 2}


def test_an_unknown_toml_setting_names_the_file_and_the_key(tmp_path):
    path = tmp_path / "waitpoint.toml"
    path.write_text("[waitpoint]\nshutdown_grce = 3\n")
    with pytest.raises(ValueError, match=r"waitpoint.toml: unknown setting\(s\) shutdown_grce"):
        Settings.from_toml(path)
