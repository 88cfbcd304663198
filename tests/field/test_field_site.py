"""The site profile a technician carries: found where the commands look for it,
every wrong setting named in one line, and the city's area enforced before a
node is touched."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import one_line_error
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.district import build
from tools.field.errors import FieldError
from tools.field.site import Area, SiteError, check_position, find_site, load_site, parse_site

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "site.toml"


def kvarter(*args: str, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True,
                          text=True, timeout=60, cwd=cwd, env=env)


def test_the_example_covers_every_node_of_the_demo_district() -> None:
    site = load_site(EXAMPLE)
    assert site.gateway == "127.0.0.1:5683" and site.wifi_ssid and site.bin_type
    district = build(120, 16, 1)
    assert site.area is not None
    assert all(site.area.contains(n.lat, n.lon) for n in district.bins + district.poles)
    assert "change-me" not in repr(site)  # a password never lands in a log by accident


def test_the_profile_is_found_from_option_then_environment_then_folder(tmp_path: Path) -> None:
    a, b, c = (tmp_path / n for n in ("a.toml", "b.toml", "kvarter-site.toml"))
    for path, name in ((a, "A"), (b, "B"), (c, "C")):
        path.write_text(f'name = "{name}"\n')
    env = {"KVARTER_SITE": str(b)}
    assert find_site(a, tmp_path, env).name == "A"
    assert find_site(None, tmp_path, env).name == "B"
    assert find_site(None, tmp_path, {}).name == "C"
    assert find_site(None, tmp_path / "elsewhere", {}).name == ""  # none: options only
    with pytest.raises(SiteError, match="no site profile at .*nope.toml"):
        find_site(None, tmp_path, {"KVARTER_SITE": str(tmp_path / "nope.toml")})


@pytest.mark.parametrize("toml, expect", [
    ("[area]\nsouth = 60.7\nnorth = 60.6\nwest = 17\neast = 18\n", "south < north"),
    ("[area]\nsouth = 60.6\nnorth = 60.7\n", "west, east missing"),
    ("[area]\npolygon = [[60, 17], [61, 17]]\n", "3 or more"),
    ("[area]\npolygon = [[60, 17], [61, 17], [61, 200]]\nsouth = 1\n", "not both"),
    ("[gateway]\naddress = \"10.0.0.1\"\n", "gateway.address must be HOST:PORT"),
    ("[gateway]\nadress = \"10.0.0.1:5683\"\n", "[gateway] has no setting adress"),
    ("colour = 1\n", "has no setting colour"),
    ("[bin]\nfull_mm = 1200\n", "[bin] full_mm (1200) must be less than empty_mm (1000)"),
    ("[light]\nidle_pct = 140\n", "[light] idle_pct must be between 0 and 100"),
    ("[bin]\nid = \"B1\"\n", "cannot set id"),
    ("[lora]\nsf = 13\n", "[lora] lora.sf must be between 7 and 12"),
    ("[node]\ntransport = \"zigbee\"\n", "node.transport must be"),
    ("[flash]\nbaud = 12\n", "flash.baud"),
    ("[wifi\n", "is not valid TOML"),
])
def test_a_wrong_setting_is_named_with_its_file(tmp_path: Path, toml: str, expect: str) -> None:
    path = tmp_path / "site.toml"
    path.write_text(toml)
    with pytest.raises(SiteError) as e:
        load_site(path)
    assert expect in str(e.value) and str(path) in str(e.value)
    assert "\n" not in str(e.value)


def test_a_position_outside_the_area_is_refused_before_the_node_is_touched(
        tmp_path: Path) -> None:
    # The port does not exist: the refusal must come first, from the profile.
    base = ["node", "provision", "B0042", "--role", "bin", "--port", str(tmp_path / "ttyUSB9"),
            "--site", str(EXAMPLE)]
    line = one_line_error(kvarter(*base, "--lat", "59.33", "--lon", "18.06"))
    assert "outside the area" in line and "lat 60.665..60.685" in line
    line = one_line_error(kvarter(*base, "--lat", "17.14", "--lon", "60.675"))
    assert "looks swapped: give --lat 60.675 --lon 17.14" in line


def test_the_area_check_names_the_profile() -> None:
    area = Area.bounding(60.665, 60.685, 17.12, 17.162)
    check_position(area, 60.675, 17.14, "site profile x.toml")
    check_position(None, 0, 0, "no site profile")  # no area: nothing to check against
    with pytest.raises(FieldError, match="x.toml"):
        check_position(area, 60.7, 17.14, "site profile x.toml")


# --- properties ---------------------------------------------------------------
def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v == math.inf else
                                            "-inf" if v == -math.inf else repr(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


scalars = st.one_of(st.booleans(), st.integers(-10**6, 10**6), st.floats(),
                    st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=12))
values = st.one_of(scalars, st.lists(scalars, max_size=4),
                   st.lists(st.lists(st.floats(-200, 200), min_size=0, max_size=3), max_size=5))
keys = {
    "gateway": ["address", "node_address", "other"],
    "area": ["south", "north", "west", "east", "polygon"],
    "wifi": ["ssid", "password"],
    "lora": ["sf", "modem", "output_power", "pins"],
    "node": ["transport", "bin_type", "zone"],
    "bin": ["empty_mm", "full_mm", "measure_interval_s", "sensor"],
    "light": ["idle_pct", "active_pct", "presence"],
    "flash": ["baud"],
}


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_profile_parses_or_is_refused_in_one_line(data: st.DataObject) -> None:
    chosen = data.draw(st.lists(st.sampled_from(sorted(keys)), max_size=4, unique=True))
    text = ""
    for table in chosen:
        entries = data.draw(st.dictionaries(st.sampled_from(keys[table]), values, max_size=4))
        text += f"[{table}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in entries.items())
    try:
        site = parse_site(text)
    except SiteError as e:
        assert str(e) and "\n" not in str(e)
        return
    if site.area is not None and site.area.box:
        lats = [c[0] for c in site.area.corners]
        lons = [c[1] for c in site.area.corners]
        assert site.area.contains((min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2)
        assert not site.area.contains(max(lats) + 1, max(lons))


@settings(max_examples=300, deadline=None)
@given(st.floats(-80, 79), st.floats(0.001, 10), st.floats(-170, 169), st.floats(0.001, 10),
       st.floats(-0.5, 1.5), st.floats(-0.5, 1.5))
def test_a_rectangle_as_polygon_agrees_with_the_box(s: float, dlat: float, w: float, dlon: float,
                                                    fy: float, fx: float) -> None:
    n, e = s + dlat, w + dlon
    box = Area.bounding(s, n, w, e)
    poly = Area(((s, w), (s, e), (n, e), (n, w)))
    lat, lon = s + fy * dlat, w + fx * dlon
    edge = min(abs(fy), abs(fy - 1), abs(fx), abs(fx - 1))
    if edge > 1e-6:  # on an edge the polygon may go either way
        assert poly.contains(lat, lon) == box.contains(lat, lon)
