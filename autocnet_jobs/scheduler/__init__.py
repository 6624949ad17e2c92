"""Cluster backends: a small class per scheduler over one core (``base.ClusterBackend``)."""
