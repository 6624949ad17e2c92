"""Exports of the catalogue: GeoJSON and GeoPackage."""
