"""Old home of the catalogue's read side: ``autocnet_jobs.queries`` is :mod:`autocnet_jobs.catalogue.queries`."""
import sys

from .catalogue import queries as _queries

sys.modules[__name__] = _queries
