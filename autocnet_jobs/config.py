"""Configuration: built-in defaults (``defaults.yml``) overlaid by a YAML file or a dict.

Every key a user may set exists in the defaults; an unknown key or a value of the wrong type is a
:class:`ConfigError` that names the key and where it came from, because a silently ignored typo in a site
config (``maxfailure: 1``) is how a run retries forever.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Mapping

import yaml

from .defaults import defaults
from .errors import ConfigError

__all__ = ["defaults", "load", "get", "job_settings", "database_url"]

ENV_VAR = "autocnet_config"

# Keys whose default is null but which take a value of this type when set.
_NULLABLE: dict[str, tuple[type, ...]] = {
    "cluster.address": (str,),
    "cluster.slurm.queue": (str,),
    "cluster.slurm.account": (str,),
    "cluster.slurm.cores": (int,),
    "cluster.slurm.memory": (str,),
    "cluster.slurm.processes": (int,),
    "cluster.slurm.walltime": (str,),
    "cluster.slurm.interface": (str,),
    "cluster.slurm.worker_lifetime": (str,),
    "cluster.slurm.minimum_jobs": (int,),
    "cluster.slurm.maximum_jobs": (int,),
    "cluster.slurm.python": (str,),
    "cluster.slurm.log_directory": (str,),
    "cluster.slurm.shared_temp_directory": (str,),
    "cluster.job_timeout": (int, float),
    "pyro.host": (str,),
    "reading.nodata": (int, float),
    "camera.dem": (str,),
    "camera.isd_dir": (str,),
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "cluster.backend": ("local", "slurm", "address"),
    "pyro.tls": ("auto", "always"),
}
# Keys that take either of several types (checked further in _validate).
_EITHER: dict[str, tuple[type, ...]] = {"cluster.security": (str, Mapping)}
SECURITY_WORDS = ("auto", "none")
SECURITY_FILES = {"ca_file": True, "cert": True, "key": False}  # file -> required
# (The extractor section's rules live with the extractor: features.effective_settings, run by _validate.)
# Keys that take "auto" or a whole number >= 1.
_AUTO_OR_COUNT = ("cluster.max_in_flight", "cluster.images_per_task")
_POSITIVE = {"cluster.n_workers", "cluster.maxfailures", "database.batch_size", "reading.band",
             "pyro.max_message_size", "cluster.worker_grace"}


def load(config: str | os.PathLike | Mapping | None = None) -> dict[str, Any]:
    """Return the effective configuration.

    ``config`` may be a path to a YAML file, a mapping, or None; with None the file named by
    ``$autocnet_config`` is used when that variable is set.
    """
    source = "<dict>"
    if config is None:
        env = os.environ.get(ENV_VAR)
        if not env:
            return defaults()
        config = env
        source = f"{env} (from ${ENV_VAR})"
    if isinstance(config, (str, os.PathLike)):
        path = Path(config)
        source = source if source != "<dict>" else str(path)
        try:
            with open(path) as f:
                user = yaml.safe_load(f) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except OSError as exc:  # a folder, no permission
            raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
        if not isinstance(user, Mapping):
            raise ConfigError(f"config file {path} must hold a mapping at the top level")
    elif isinstance(config, Mapping):
        user = config
    else:
        raise ConfigError(f"config must be a path, a mapping or None, not {type(config).__name__}")
    merged = defaults()
    _merge(merged, user, "", source)
    _validate(merged, source)
    return merged


def _merge(base: dict, user: Mapping, prefix: str, source: str) -> None:
    for key, value in user.items():
        name = f"{prefix}{key}"
        if key not in base:
            known = ", ".join(sorted(base))
            raise ConfigError(f"unknown config key {name!r} in {source} (known here: {known})")
        default = base[key]
        if isinstance(default, dict) and default and not isinstance(value, Mapping):
            raise ConfigError(f"config key {name!r} in {source} must be a mapping, got {value!r}")
        if isinstance(default, dict) and default:
            _merge(default, value, f"{name}.", source)
            continue
        if name in _EITHER and isinstance(value, Mapping):
            base[key] = copy.deepcopy(dict(value))
            continue
        _check_type(name, default, value, source)
        base[key] = copy.deepcopy(value)


def _check_type(name: str, default: Any, value: Any, source: str) -> None:
    if name in _AUTO_OR_COUNT:
        if value != "auto" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"config key {name!r} in {source} must be 'auto' or a whole number >= 1, got {value!r}")
        return
    if value is None:
        if default is None or name in _NULLABLE:
            return
        raise ConfigError(f"config key {name!r} in {source} may not be null")
    if name in _NULLABLE:
        allowed = _NULLABLE[name]
    elif name in _EITHER:
        allowed = _EITHER[name]
    elif isinstance(default, bool):
        allowed = (bool,)
    elif isinstance(default, float):
        allowed = (int, float)
    elif default is None:
        return
    else:
        allowed = (type(default),)
    # bool is an int subclass; "n_workers: true" is a mistake, not 1.
    if isinstance(value, bool) and bool not in allowed:
        ok = False
    else:
        ok = isinstance(value, allowed)
    if not ok:
        names = " or ".join(t.__name__ for t in allowed)
        raise ConfigError(f"config key {name!r} in {source} must be {names}, got {value!r}")


def _validate(cfg: dict, source: str) -> None:
    for name, choices in _CHOICES.items():
        value = get(cfg, name)
        if value not in choices:
            raise ConfigError(f"config key {name!r} in {source} must be one of {choices}, got {value!r}")
    for name in _POSITIVE:
        if get(cfg, name) <= 0:
            raise ConfigError(f"config key {name!r} in {source} must be > 0, got {get(cfg, name)!r}")
    from .extractors.features import check_parameters, effective_settings  # imports OpenCV: only here

    try:
        extractor = effective_settings(cfg["extractor"])
        check_parameters(extractor["method"], extractor["parameters"])
    except ConfigError as exc:
        raise ConfigError(f"config key {exc} (in {source})") from None
    timeout = get(cfg, "cluster.job_timeout")
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"config key 'cluster.job_timeout' in {source} must be > 0 or null")
    dem = cfg["camera"]["dem"]
    if dem is not None and not os.path.isfile(dem):
        raise ConfigError(f"config key 'camera.dem' in {source}: {dem} is not a file; give a DEM raster or null")
    isd_dir = cfg["camera"].get("isd_dir")
    if isd_dir is not None and not os.path.isdir(isd_dir):
        raise ConfigError(f"config key 'camera.isd_dir' in {source}: {isd_dir} is not a folder; give a folder of "
                          f"ISD sidecars (IMAGE_STEM.json) or null")
    if cfg["cluster"]["backend"] == "address" and not cfg["cluster"]["address"]:
        raise ConfigError(f"cluster.backend is 'address' in {source} but cluster.address is not set")
    cfg["database"]["url"] = database_url(cfg["database"]["url"])
    _check_database_url(cfg["database"]["url"], source)
    _check_security(cfg["cluster"]["security"], source)
    if cfg["pyro"]["tls"] == "always" and cfg["cluster"]["security"] == "none":
        raise ConfigError(f"pyro.tls is 'always' in {source} but cluster.security is none: TLS needs credentials")


def _check_security(value: Any, source: str) -> None:
    """``auto``, ``none`` or a mapping of readable PEM files (ca_file and cert required, key optional)."""
    name = f"config key 'cluster.security' in {source}"
    if isinstance(value, str):
        if value not in SECURITY_WORDS:
            raise ConfigError(f"{name} must be auto, none or a mapping of certificate files "
                              f"({', '.join(SECURITY_FILES)}), got {value!r}")
        return
    unknown = sorted(set(value) - set(SECURITY_FILES))
    if unknown:
        raise ConfigError(f"{name} has unknown keys {unknown} (known: {', '.join(SECURITY_FILES)})")
    for key, required in SECURITY_FILES.items():
        path = value.get(key)
        if path is None:
            if required:
                raise ConfigError(f"{name} needs {key}: the PEM file of the site's "
                                  f"{'certificate authority' if key == 'ca_file' else 'certificate for this user'}")
            continue
        if not isinstance(path, str) or not os.path.isfile(path) or not os.access(path, os.R_OK):
            raise ConfigError(f"{name}: {key} {path!r} is not a readable file")


SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3", ".gpkg")


def database_url(value: str) -> str:
    """``value`` as a database URL: a plain path to an SQLite file (existing, or new with a ``.db``, ``.sqlite``,
    ``.sqlite3`` or ``.gpkg`` name) becomes ``sqlite:///ABSOLUTE_PATH``; anything else is left for the check."""
    if not isinstance(value, str) or "://" in value:
        return value
    path = os.path.expanduser(value)
    if os.path.isfile(path) or path.lower().endswith(SQLITE_SUFFIXES):
        return f"sqlite:///{os.path.abspath(path)}"
    return value


def _check_database_url(url: str, source: str) -> None:
    """Only SQLite and PostgreSQL URLs; anything else would surface as the writer failing to start."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        backend = None
    if backend not in ("sqlite", "postgresql"):
        shown = repr(url) if "@" not in url else "(not shown: it may hold a password)"
        raise ConfigError(f"config key 'database.url' in {source} must be sqlite:///FILE, a path to a "
                          f"{'/'.join(SQLITE_SUFFIXES)} file or postgresql+psycopg://user@host:port/db, got {shown}")


def get(cfg: Mapping, dotted: str) -> Any:
    """``get(cfg, "cluster.maxfailures")``."""
    node: Any = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def job_settings(cfg: Mapping) -> dict[str, Any]:
    """The part of the config a per-image job needs (plain data, so it travels to any worker)."""
    return {"reading": dict(cfg["reading"]), "extractor": copy.deepcopy(cfg["extractor"]),
            "output": dict(cfg["output"]), "camera": dict(cfg["camera"])}
