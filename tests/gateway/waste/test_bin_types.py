"""The bin-type catalogue: the built-in defaults and an operator's TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.waste.bin_types import COMPACTION_FACTOR, GENERIC, Catalogue, CatalogueError, Match

# Every PRODTYP in Gävle's open data (papperskorgar), and the simulator's types.
GAVLE_TYPES = ["Hags - Rosen", "Hags - Rosen SVART", "Hags - Rosen GRÖN", "JCDecaux - Standard",
               "Vestre - Urban", "Dubbelkanon", "Sortify källsorteringskärl", "Byarum",
               "Veksö - Input", "Big Belly källsorteringskärl", "Nola - Kvadrat",
               "Lappset - Neo"]


@pytest.mark.parametrize("name", GAVLE_TYPES + ["140L", "240L", "360L"])
def test_every_known_type_is_in_the_default_catalogue(name: str) -> None:
    bin_type, match = Catalogue.default().resolve(name)
    assert match is Match.KNOWN
    assert bin_type.name == name
    assert bin_type.volume_l > 0 and bin_type.service_s > 0
    assert len(name) <= 40  # it becomes a node's kind


@pytest.mark.parametrize("raw", ["Okodad", "Annan typ", None, ""])
def test_unrecorded_types_are_generic(raw: object) -> None:
    bin_type, match = Catalogue.default().resolve(raw)
    assert (bin_type.name, match) == (GENERIC, Match.UNCODED)


@pytest.mark.parametrize("raw", ["Mystery Bin 3000", 42, ["Hags - Rosen"]])
def test_unknown_types_are_generic_but_marked_unknown(raw: object) -> None:
    bin_type, match = Catalogue.default().resolve(raw)
    assert (bin_type.name, match) == (GENERIC, Match.UNKNOWN)


def test_a_compactor_holds_five_times_its_volume() -> None:
    cat = Catalogue.default()
    big_belly = cat.types["Big Belly källsorteringskärl"]
    assert big_belly.compacting
    assert big_belly.holds_l == COMPACTION_FACTOR * big_belly.volume_l == 5 * big_belly.volume_l
    assert cat.types["240L"].holds_l == 240


def test_a_registered_kind_the_catalogue_lacks_is_planned_as_generic() -> None:
    cat = Catalogue.default()
    assert cat.for_kind("no such bin").name == GENERIC
    assert cat.for_kind("360L").volume_l == 360


def test_a_toml_file_overrides_and_extends(tmp_path: Path) -> None:
    path = tmp_path / "bins.toml"
    path.write_text('uncoded = ["Okänd"]\n'
                    '[types."Hags - Rosen"]\nvolume_l = 85\n'
                    '[types."Vestre - Unity"]\nvolume_l = 110\ncompacting = true\n'
                    'service_s = 120\n')
    cat = Catalogue.load(path)
    rosen = cat.types["Hags - Rosen"]
    assert (rosen.volume_l, rosen.service_s) == (85, 60)  # service time kept from the default
    unity = cat.types["Vestre - Unity"]
    assert (unity.volume_l, unity.compacting, unity.service_s) == (110, True, 120)
    assert cat.resolve("Okänd")[1] is Match.UNCODED
    assert cat.resolve("Okodad")[1] is Match.UNCODED  # the defaults still count
    assert Catalogue.default().types["Hags - Rosen"].volume_l == 70  # defaults untouched


@pytest.mark.parametrize("toml, expect", [
    ('[types."New bin"]\nservice_s = 60\n', "a new type needs volume_l"),
    ('[types."Hags - Rosen"]\nvolume_l = "big"\n', "volume_l must be a whole number"),
    ('[types."Hags - Rosen"]\nvolume_l = 0\n', "volume_l must be a whole number"),
    ('[types."Hags - Rosen"]\ncompacting = "yes"\n', "compacting must be true or false"),
    ('[types."Hags - Rosen"]\nvolum_l = 80\n', "unknown key(s) volum_l"),
    ('[bins]\nx = 1\n', "unknown key(s) bins"),
    ('uncoded = "Okänd"\n', "uncoded must be a list"),
    ('[types."' + "x" * 41 + '"]\nvolume_l = 80\n', "1 to 40 characters"),
    ("[types\n", "not valid TOML"),
])
def test_a_bad_catalogue_file_gets_one_line_naming_it(tmp_path: Path, toml: str,
                                                      expect: str) -> None:
    path = tmp_path / "bins.toml"
    path.write_text(toml)
    with pytest.raises(CatalogueError) as e:
        Catalogue.load(path)
    assert expect in str(e.value)
    assert str(path) in str(e.value)
    assert "\n" not in str(e.value)


def test_a_missing_catalogue_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="does not exist"):
        Catalogue.load(tmp_path / "nope.toml")
