"""Per-image work: reading, feature extraction, footprints, cameras and keypoint files.

Everything here is plain functions of paths and settings returning plain records, so the same code runs
in a test, a Dask task and a Slurm job.
"""
