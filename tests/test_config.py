import pytest
import yaml

from autocnet_jobs import ConfigError
from autocnet_jobs import config


def test_defaults_are_documented_and_loadable():
    cfg = config.load()
    assert cfg["database"]["url"] == "sqlite:///autocnet.db"
    assert cfg["cluster"]["backend"] == "local"
    assert cfg["cluster"]["maxfailures"] == 3
    assert cfg["pyro"]["port"] == 0
    assert cfg["extractor"]["method"] == "sift"


def test_unknown_key_names_key_and_file(tmp_path):
    f = tmp_path / "site.yml"
    f.write_text(yaml.safe_dump({"cluster": {"maxfailure": 1}}))
    with pytest.raises(ConfigError, match=r"cluster\.maxfailure.*site\.yml"):
        config.load(f)


@pytest.mark.parametrize("bad, key", [
    ({"cluster": {"n_workers": "two"}}, "cluster.n_workers"),
    ({"cluster": {"n_workers": True}}, "cluster.n_workers"),
    ({"cluster": {"maxfailures": 0}}, "cluster.maxfailures"),
    ({"extractor": {"method": "surf"}}, "extractor.method"),
    ({"database": "sqlite:///x.db"}, "database"),
    ({"output": {"always": "yes"}}, "output.always"),
])
def test_wrong_types_are_errors(bad, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config.load(bad)


def test_env_var_names_the_file(tmp_path, monkeypatch):
    f = tmp_path / "env.yml"
    f.write_text("cluster:\n  maxfailures: 5\n")
    monkeypatch.setenv("autocnet_config", str(f))
    assert config.load()["cluster"]["maxfailures"] == 5
    f.write_text("clusterr: {}\n")
    with pytest.raises(ConfigError, match="env.yml"):
        config.load()


def test_explicit_config_overrides_env(tmp_path, monkeypatch):
    monkeypatch.setenv("autocnet_config", str(tmp_path / "missing.yml"))
    assert config.load({"cluster": {"n_workers": 1}})["cluster"]["n_workers"] == 1
    with pytest.raises(ConfigError, match="missing.yml"):
        config.load()
