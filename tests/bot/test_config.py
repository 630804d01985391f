from __future__ import annotations

import pytest

from bot.cli import main
from bot.config import load_config
from nlu.yamlfile import DataError


def test_repo_config_is_valid():
    cfg = load_config("config.yml")
    assert cfg.nlu.encoder in ("minilm", "e5", "cascade")
    assert cfg.store_url().startswith("sqlite:////")  # resolved next to the config file


def test_unknown_key_names_file_line_and_key(tmp_path):
    p = tmp_path / "config.yml"
    p.write_text("brand:\n  name: X\nnlu:\n  encodr: minilm\n")
    with pytest.raises(DataError) as e:
        load_config(p)
    assert e.value.line == 4 and e.value.key == "nlu.encodr" and str(p) in str(e.value)
    assert "unknown key" in str(e.value)


def test_bad_value_is_reported(tmp_path):
    p = tmp_path / "config.yml"
    p.write_text("nlu:\n  fallback_threshold: 7\n")
    with pytest.raises(DataError) as e:
        load_config(p)
    assert e.value.key == "nlu.fallback_threshold" and e.value.line == 2


def test_finetune_epochs_auto_or_a_number(tmp_path):
    p = tmp_path / "config.yml"
    p.write_text("nlu:\n  finetune: true\n")
    assert load_config(p).nlu.finetune_epochs == "auto"
    p.write_text("nlu:\n  finetune: true\n  finetune_epochs: 3\n")
    assert load_config(p).nlu.finetune_epochs == 3
    p.write_text("nlu:\n  finetune: true\n  finetune_epochs: many\n")
    with pytest.raises(DataError) as e:
        load_config(p)
    assert e.value.key == "nlu.finetune_epochs" and e.value.line == 3 and "auto" in str(e.value)


def test_env_substitution_and_missing_variable(tmp_path, monkeypatch):
    p = tmp_path / "config.yml"
    p.write_text("store:\n  url: ${DB_URL}\n")
    with pytest.raises(DataError) as e:
        load_config(p)
    assert "DB_URL" in str(e.value) and e.value.key == "store.url"
    monkeypatch.setenv("DB_URL", "sqlite:////tmp/x.db")
    assert load_config(p).store.url == "sqlite:////tmp/x.db"


def test_secrets_must_come_from_the_environment(tmp_path, monkeypatch):
    p = tmp_path / "config.yml"
    p.write_text("channels:\n  telegram:\n    token: 123:ABCDEF\n")
    with pytest.raises(DataError) as e:
        load_config(p)
    assert "secrets" in str(e.value) and e.value.key == "channels.telegram.token"
    p.write_text("channels:\n  telegram:\n    token: ${TG_TOKEN}\n")
    monkeypatch.setenv("TG_TOKEN", "123:ABCDEF")
    assert load_config(p).channels.telegram.token.get_secret_value() == "123:ABCDEF"
    assert "ABCDEF" not in repr(load_config(p))


def test_broken_yaml_exits_non_zero_with_the_line(tmp_path, capsys):
    p = tmp_path / "config.yml"
    p.write_text("brand:\n  name: [unclosed\n")
    assert main(["nlu", "parse", "hi", "--config", str(p)]) == 2
    err = capsys.readouterr().err
    assert str(p) in err and ":3" in err or ":2" in err
