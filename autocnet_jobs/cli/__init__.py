"""``autocnet-jobs``: the command line over the same engine as ImageAdder.

A user error (an argument that cannot be used, a missing folder or catalogue, a config or database problem) ends
with exit code 2 and one line saying what is wrong and what is accepted, found before any cluster is started;
the commands that only read never create a catalogue.
"""
from __future__ import annotations

import sys

from ..errors import AutocnetJobsError
from .arguments import _one_line
from .options import UsageError, _config
from .parser import build_parser

READ_ONLY = ("status", "failed", "query", "export", "plot", "report", "overlaps")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(__doc__)
    args = parser.parse_args(argv)
    try:
        if args.command in READ_ONLY:
            from ..catalogue import queries

            url = _config(args)["database"]["url"]
            queries.require_catalogue(url)
            if getattr(args, "body", None):
                _check_body(args.body, queries.bodies(url))
        return args.func(args)
    except AutocnetJobsError as exc:
        print(f"autocnet-jobs: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("autocnet-jobs: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


def _check_body(body: str, present: list[str]) -> None:
    """A --body no image is of is a typo more often than not: say which bodies the catalogue has."""
    if body.lower() not in {b.lower() for b in present}:
        raise UsageError(f"--body {body}: no image of that body in the catalogue; it has "
                         f"{', '.join(present) or 'no image of a known body'}")


__all__ = ["UsageError", "main"]


if __name__ == "__main__":
    sys.exit(main())
