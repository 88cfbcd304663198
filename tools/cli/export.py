"""`kvarter export ...`: the district's data as files for others, read from
the gateway's database as the other commands read it."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import click

from gateway.config import district_title
from gateway.daily_export import DayError, Settings, day_files, parse_day, today
from gateway.opendata.export.files import BINS_GEOJSON, DATAPACKAGE, DATASET_OF, TABLES
from tools.cli.options import config_option, db_option, fail, gateway_config, open_store


@click.group()
def export() -> None:
    """The district's data as open-data files (docs/open-data.md)."""


@export.command("open-data")
@click.option("--day", "day_text", metavar="YYYY-MM-DD",
              help="The district's local day [yesterday]; today has what is over of it.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), metavar="DIR",
              help="The folder to write the files into: new or empty (see --force).")
@click.option("--force", is_flag=True,
              help="Write into a folder that holds files already, replacing the day's files "
                   "there (others are left as they are).")
@config_option
@db_option
def open_data(day_text: str | None, out: Path, force: bool, config: Path | None,
              db_path: Path | None) -> None:
    """Write one day's open-data files: bins (CSV and GeoJSON), the bins' fill
    per hour, emptyings per bin, the street lights' energy per zone for the
    night, and presence counts per zone and hour (small counts left empty,
    docs/privacy.md), with datapackage.json: the data dictionary and the
    licence (the gateway config's open_data_licence)."""
    now = time.time()
    try:
        day = (today(now) - timedelta(days=1) if day_text is None
               else parse_day(day_text, now))
    except DayError as e:
        raise fail(f"--day: {e}") from None
    _check_out(out, force)
    cfg = gateway_config(config, db_path)
    settings = Settings(cfg.district, district_title(cfg.district_name, cfg.district),
                        cfg.presence_interval_s, cfg.presence_min_count, cfg.open_data_licence)
    # The database just found, named once on standard error.
    with open_store(config, cfg.db_path) as store:
        try:
            made = day_files(store, day, now, settings)
        except DayError as e:
            raise fail(f"--day: {e}") from None
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, body in made.files.items():
            tmp = out / f".{name}.part"
            tmp.write_bytes(body)
            os.replace(tmp, out / name)
    except OSError as e:
        raise fail(f"cannot write into {out}: {e.strerror or e}; give another --out") from None
    click.echo(f"open data of {day.isoformat()} in {out}:")
    rows = {t.csv_name: made.rows[t.name] for t in TABLES}
    rows[BINS_GEOJSON] = made.rows["bins"]
    for name in sorted(made.files):
        what = "" if name == DATAPACKAGE else f"  {rows[name]} rows ({DATASET_OF[name]})"
        click.echo(f"  {name:<22}{len(made.files[name]):>9} bytes{what}")
    if day == today(now):
        click.echo("the day is under way: only what is over of it is in the files")


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise fail(f"--out {out} is a file, not a folder: give a folder")
    if out.is_dir():
        try:
            holds = any(out.iterdir())
        except OSError as e:
            raise fail(f"cannot read the folder {out}: {e.strerror or e}; give "
                       "another --out") from None
        if holds and not force:
            raise fail(f"--out {out} holds files already: give a new or empty folder, or "
                       "--force to replace the day's files in it")
        if not os.access(out, os.W_OK | os.X_OK):
            raise fail(f"cannot write into {out}: permission denied; give another --out")
    else:
        parent = next((p for p in out.parents if p.exists()), Path("."))
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise fail(f"cannot make the folder {out}: {parent} is not writable; give "
                       "another --out")
