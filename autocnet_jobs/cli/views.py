"""``plot`` and ``report``: what people look at."""
from __future__ import annotations

import argparse

from .options import _config


def cmd_plot(args: argparse.Namespace) -> int:
    from ..views.plot import save_map

    print(f"map written to {save_map(_config(args)['database']['url'], args.out, args.body, dpi=args.dpi)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ..views.report import write_report

    print(f"report written to {write_report(_config(args)['database']['url'], args.out, body=args.body)}")
    return 0
