"""Parameters: defaults, TOML overrides, strictness about unknown keys and types."""

import pytest

from planner.errors import InputError
from planner.params import Parameters, load_parameters, parameters_from_mapping


def test_defaults_match_design():
    p = Parameters()
    assert p.walk_speed_m_s == 1.2 and p.reach_s == 60.0
    assert p.area_per_occupant_m2 == 1.86 and p.endurance_h == 72.0
    assert p.candidate_kinds == ["storage", "quarters", "recreation"]
    # a 0.9 m door passes about 47 people a minute
    assert p.door_flow_pps(0.9) * 60 == pytest.approx(46.8)
    assert p.door_flow_pps(0.25) == 0.0
    assert p.reach_m == pytest.approx(72.0)


def test_toml_override(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('[walking]\nspeed_m_s = 1\n'.replace("speed_m_s", "walk_speed_m_s")
                 + '[model]\nbudget = 2500000\nbackup_k = 2\n'
                 + '[[phases]]\nname = "P1"\nmax_rooms = 10\nmax_days = 3\n')
    p = load_parameters(f)
    assert p.walk_speed_m_s == 1.0 and isinstance(p.walk_speed_m_s, float)
    assert p.budget == 2_500_000 and p.backup_k == 2
    assert p.phases[0].name == "P1" and p.phases[0].max_rooms == 10


@pytest.mark.parametrize("data, needle", [
    ({"walking": {"speeed": 1.0}}, "speeed"),
    ({"nosuch": {"a": 1}}, "nosuch"),
    ({"walking": {"walk_speed_m_s": "fast"}}, "walk_speed_m_s"),
    ({"model": {"backup_k": 1.5}}, "backup_k"),
    ({"model": {"objective": "cheapest"}}, "objective"),
    ({"walking": {"walk_speed_m_s": -1.0}}, "walk_speed_m_s"),
    ({"capacity": {"candidate_kinds": ["storage", "garage"]}}, "candidate_kinds"),
    ({"phases": [{"name": "x", "max_roms": 3}]}, "max_roms"),
])
def test_bad_values_are_errors(data, needle):
    with pytest.raises(InputError) as e:
        parameters_from_mapping(data, "scenario.toml")
    assert needle in str(e.value) and "scenario.toml" in str(e.value)


def test_describe_has_units_for_every_field():
    rows = Parameters().describe()
    names = {r["name"] for r in rows}
    assert {"walk_speed_m_s", "wall_reinforcement_per_m2", "crews"} <= names
    assert all(r["section"] for r in rows)


def test_bad_toml_syntax(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text("[walking\n")
    with pytest.raises(InputError, match="TOML"):
        load_parameters(f)


def test_modes_and_displacement_cap_are_validated() -> None:
    from planner.errors import InputError
    from planner.params import parameters_from_mapping

    p = parameters_from_mapping({"model": {"modes": {"quarters": "dual_use", "storage": "repurpose"},
                                           "max_displaced": 100}})
    assert p.modes == {"quarters": "dual_use", "storage": "repurpose"} and p.max_displaced == 100
    for bad, words in (({"modes": {"quarters": "move"}}, "modes.quarters"),
                       ({"modes": {"cabins": "dual_use"}}, "not a known room kind"),
                       ({"modes": ["quarters"]}, "modes"),
                       ({"max_displaced": -1}, "max_displaced"),
                       ({"max_displaced": 2.5}, "max_displaced")):
        with pytest.raises(InputError) as err:
            parameters_from_mapping({"model": bad}, "scenario.toml")
        assert words in str(err.value)
    with pytest.raises(InputError):
        parameters_from_mapping({"capacity": {"berth_area_m2": 0}})


def test_every_toml_file_not_in_utf8_is_an_input_error(tmp_path):
    """The scenario, mapping and strings files share params.read_toml: a Latin-1 file is exit 2 with
    the file named, never 'a planner bug' (it was so for the mapping file)."""
    from planner.errors import InputError
    from planner.indoor import load_mapping
    from planner.params import read_toml

    bad = tmp_path / "mapping.toml"
    bad.write_bytes('[names]\n"caf\xe9" = "galley"\n'.encode("latin-1"))
    for load in (lambda: read_toml(bad, "mapping TOML file"), lambda: load_mapping(bad)):
        with pytest.raises(InputError, match="UTF-8") as err:
            load()
        assert str(bad) in str(err.value)
