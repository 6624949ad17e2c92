"""What the commands share: the usage error, the effective config, the acquisition filters."""
from __future__ import annotations

import argparse
import os
from typing import Any

from .. import config as config_mod
from ..errors import AutocnetJobsError, ConfigError
from .arguments import _quantity, _since


class UsageError(AutocnetJobsError):
    """A command-line value that cannot be used; the message says what is accepted."""


def _acquisition_arguments(p: argparse.ArgumentParser) -> None:
    """The acquisition filters of ``query`` and ``export`` (queries.ACQUISITION_FILTERS)."""
    p.add_argument("--instrument", help="instrument id as the label gives it (HIRISE, NACL, METRIC), any case")
    p.add_argument("--spacecraft", help="spacecraft name as the label gives it (MARS RECONNAISSANCE ORBITER), any case")
    p.add_argument("--from", dest="acquired_from", type=_since, metavar="T",
                   help="acquired at or after T (the image's start time; UTC unless an offset is given)")
    p.add_argument("--to", dest="acquired_to", type=_since, metavar="T",
                   help="acquired before T (the image's start time; a date means its midnight, UTC)")
    for name, unit in (("resolution", "metres per pixel at the image centre"),
                       ("incidence", "solar incidence angle at the centre, degrees"),
                       ("emission", "emission angle at the centre, degrees"),
                       ("phase", "phase angle at the centre, degrees")):
        p.add_argument(f"--{name}", nargs=2, type=_quantity, metavar=("MIN", "MAX"),
                       help=f"{unit}, from MIN to MAX inclusive (images that do not say are left out)")


def _acquisition_filters(args: argparse.Namespace) -> dict[str, Any]:
    """The acquisition filters given, checked (a bad range is a UsageError naming the option)."""
    from ..catalogue import queries

    given = {k: getattr(args, k, None) for k in queries.ACQUISITION_FILTERS}
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items() if v is not None}
    try:
        queries.acquisition_filter(False, **given)
    except ValueError as exc:
        raise UsageError(str(exc).replace("the acquisition time range", "--from/--to: the range")) from None
    return given


def _config(args: argparse.Namespace) -> dict[str, Any]:
    """The effective config: --config (else $autocnet_config, else defaults) with the command-line overrides."""
    if "_cfg" in vars(args):
        return args._cfg
    cfg = config_mod.load(args.config)
    overrides: dict[str, Any] = {}
    if getattr(args, "db", None) is not None:
        overrides.setdefault("database", {})["url"] = args.db
    if getattr(args, "workers", None) is not None:
        overrides.setdefault("cluster", {})["n_workers"] = args.workers
    if getattr(args, "output_dir", None):
        overrides["output"] = {"dir": os.path.abspath(args.output_dir), "always": True}
    if overrides:
        _deep_update(cfg, overrides)
        try:
            cfg = config_mod.load(cfg)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(" in <dict>", " (from the command line)")) from None
    args._cfg = cfg
    return cfg


def _deep_update(base: dict, new: dict) -> None:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _deep_update(base[k], v)
        else:
            base[k] = v
