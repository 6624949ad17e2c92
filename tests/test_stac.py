"""STAC export (issue 18 item 5): a static catalog of the sample catalogue that pystac walks from its root, every
Item, Collection and the Catalog validated offline by stac-pydantic's models (the network is closed for the test),
footprints equal to the catalogue's, acquisition values as hand-read from the labels, relative hrefs."""
from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timezone

import pytest
import shapely

from autocnet_jobs import cli, queries
from autocnet_jobs.catalogue.exports import stac

PROJ_V2 = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
VIEW_V1 = "https://stac-extensions.github.io/view/v1.0.0/schema.json"


@pytest.fixture(scope="module")
def exported(sample_run, tmp_path_factory):
    """The sample catalogue exported by ``autocnet-jobs export --format stac`` (in this process, network closed)."""
    out = tmp_path_factory.mktemp("stac") / "catalog"
    url = sample_run["cfg"]["database"]["url"]
    mp = pytest.MonkeyPatch()

    def no_network(*args, **kwargs):
        raise AssertionError(f"the STAC export tried to reach the network: {args}")

    mp.setattr(socket.socket, "connect", no_network)
    try:
        rc = cli.main(["export", "--format", "stac", "--out", str(out), "--db", url])
    finally:
        mp.undo()
    assert rc == 0
    return {"out": out, "url": url, "rows": queries.images(url)}


def test_pystac_walks_the_catalog_with_one_item_per_row(exported):
    import pystac

    root = pystac.Catalog.from_file(str(exported["out"] / "catalog.json"))
    items = list(root.get_items(recursive=True))
    rows = exported["rows"]
    assert len(items) == len(rows) == len({i.id for i in items})
    by_path = {r["path"]: r for r in rows}
    for item in items:
        image = item.assets["image"]
        assert not os.path.isabs(image.href) and not image.href.startswith("file:"), image.href
        row = by_path[os.path.normpath(image.get_absolute_href())]
        fp = row["footprint"]
        if fp is None:
            assert item.geometry is None and item.bbox is None
        else:
            assert shapely.geometry.shape(item.geometry).equals_exact(fp, 0), item.id
            assert item.bbox == list(fp.bounds)
        kps = item.assets.get("keypoints")
        assert (kps is None) == (row["keypoints_path"] is None)
        if kps is not None:
            assert not os.path.isabs(kps.href) and os.path.samefile(kps.get_absolute_href(), row["keypoints_path"])
    # Every link in every file is relative: the folder can be moved as a whole.
    for path in exported["out"].rglob("*.json"):
        for link in json.loads(path.read_text()).get("links", []):
            assert link["rel"] != "self" and not link["href"].startswith(("/", "http")), (path, link)


def test_every_document_validates_offline(exported, monkeypatch):
    from stac_pydantic import Catalog, Collection, Item

    monkeypatch.setattr(socket.socket, "connect", lambda *a, **k: pytest.fail("validation reached the network"))
    kinds = {"Catalog": Catalog, "Collection": Collection, "Feature": Item}
    seen = {k: 0 for k in kinds}
    for path in exported["out"].rglob("*.json"):
        doc = json.loads(path.read_text())
        kinds[doc["type"]].model_validate(doc)
        seen[doc["type"]] += 1
        if doc["type"] == "Feature":
            exts = set(doc["stac_extensions"])
            assert all(e.startswith("https://stac-extensions.github.io/") for e in exts), exts
            if doc["properties"].get("proj:code"):
                assert PROJ_V2 in exts
            if "ssys:targets" in doc["properties"]:
                assert stac.SSYS_SCHEMA in exts
    assert seen == {"Catalog": 1, "Collection": len(_collections(exported)), "Feature": len(exported["rows"])}


def _collections(exported) -> set[str]:
    return {p.parent.name for p in exported["out"].glob("*/collection.json")}


def test_collections_and_acquisition_values_against_the_labels(exported):
    import pystac

    root = pystac.Catalog.from_file(str(exported["out"] / "catalog.json"))
    items = {i.id: i for i in root.get_items(recursive=True)}
    # Hand-read from the ISIS labels (Instrument group): SpacecraftName, InstrumentId, StartTime, TargetName.
    apollo = items["AS15-M-0297_crop"]
    assert apollo.get_collection().id == "moon-metric"
    assert apollo.datetime == datetime(1971, 7, 31, 1, 25, 2, 243000, tzinfo=timezone.utc)
    assert apollo.properties["ssys:targets"] == ["Moon"] and apollo.properties["platform"] == "apollo 15"
    assert apollo.properties["proj:code"] == "IAU_2015:30100"
    hirise = items["no_change_before"]
    assert hirise.get_collection().id == "mars-hirise"
    assert hirise.properties["start_datetime"] == "2009-02-18T09:56:36.299000Z"
    assert hirise.properties["end_datetime"] == "2009-02-18T09:56:39.499000Z"
    assert hirise.properties["proj:code"] == "IAU_2015:49900"
    assert items["RGB.byte"].properties["proj:code"] == "EPSG:4326"
    # The two Apollo frames share their collection; a global mosaic without a label time is dated by its ingest.
    assert items["AS15-M-0298_crop"].get_collection().id == "moon-metric"
    assert items["ldem_4_reduced"].properties["autocnet:datetime_source"] == "ingest"


def test_item_properties_map_planetary_angles_to_the_view_extension():
    row = {"start_time": datetime(2010, 1, 1, tzinfo=timezone.utc), "stop_time": None, "body": "Moon",
           "resolution": 0.5, "incidence": 60.0, "emission": 10.0, "phase": 55.0, "instrument": "NACL",
           "spacecraft": "LUNAR RECONNAISSANCE ORBITER", "iau_code": "IAU_2015:30100"}
    props = stac.item_properties(row)
    assert props["datetime"] == "2010-01-01T00:00:00Z" and "start_datetime" not in props
    assert props["view:incidence_angle"] == 10.0      # the spacecraft's: planetary emission
    assert props["view:sun_elevation"] == 30.0        # 90 - solar incidence
    assert props["gsd"] == 0.5 and props["instruments"] == ["nacl"] and props["ssys:targets"] == ["Moon"]
    assert stac.collection_id("Moon", "NACL") == "moon-nacl" and stac.collection_id(None, None) == \
        "unknown-body-unknown-instrument"
    ids = stac.item_ids([{"name": "a.cub", "path": "/x/a.cub"}, {"name": "a.cub", "path": "/y/a.cub"},
                         {"name": "b.tif", "path": "/x/b.tif"}])
    assert ids[2] == "b" and ids[0] != ids[1] and all(i.startswith("a_") for i in ids[:2])


def test_export_into_a_folder_of_other_files_is_refused(sample_run, tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    rc = cli.main(["export", "--format", "stac", "--out", str(tmp_path), "--db", sample_run["cfg"]["database"]["url"]])
    err = capsys.readouterr().err
    assert rc == 2 and "catalog.json" in err and len(err.strip().splitlines()) == 1, err
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_export_takes_the_acquisition_filters(sample_run, tmp_path):
    import pystac

    rc = cli.main(["export", "--format", "stac", "--out", str(tmp_path / "apollo"), "--instrument", "METRIC",
                   "--db", sample_run["cfg"]["database"]["url"]])
    assert rc == 0
    root = pystac.Catalog.from_file(str(tmp_path / "apollo" / "catalog.json"))
    assert {i.id for i in root.get_items(recursive=True)} == {"AS15-M-0297_crop", "AS15-M-0298_crop"}
    assert [c.id for c in root.get_children()] == ["moon-metric"]
