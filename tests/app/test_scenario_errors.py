"""A user's mistakes come back all at once, each with file, line, column, key path and a hint — never a traceback."""

import re
import subprocess
import sys
import textwrap

import pytest

from sim.load import load_scenario, load_scenario_text
from sim.model.errors import ScenarioError
from sim.model.plan_traps import plan_warnings
from sim.world.fleet import build_layout
from tests.conftest import ROOT

BROKEN = textwrap.dedent("""\
    name: broken
    fleet:
      site_kinds:
        gym:
          count: 0
          cameras_per_site: 3
          uplnk: {median: 8Mbit/s}
      hardware: {orin-nx: 70%, nano: 20%}
      storage_free: {median: 4 parsecs}
    artifact:
      full_size: 50
    candidate:
      version: "2.1"
      hardware:
        orin-nx: {latency: 12ms, power: 12}
    strategy:
      kind: wave
    """)


def problems_of(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(text, "broken.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_every_problem_is_reported_in_one_pass_with_its_place():
    found = problems_of(BROKEN)
    assert "broken.yaml:5:7: fleet.site_kinds.gym.count: Input should be greater than or equal to 1 (got 0)" in found
    assert "broken.yaml:7:7: fleet.site_kinds.gym.uplnk: unknown key 'uplnk'; did you mean 'uplink'?" in found
    assert any(line.startswith("broken.yaml:8:3: fleet.hardware: shares must add up to 100%") for line in found)
    assert any(line.startswith("broken.yaml:9:18: fleet.storage_free.median: unknown size unit") for line in found)
    assert any(line.startswith("broken.yaml:11:3: artifact.full_size: expected a size") for line in found)
    assert any("strategy: unknown kind 'wave'; did you mean 'waves'?" in line for line in found)
    assert any(line.startswith("broken.yaml:4:5: fleet.site_kinds.gym.uplink: required key is missing")
               for line in found)


def test_a_misspelt_key_inside_a_strategy_gets_a_suggestion():
    text = (ROOT / "scenarios" / "tiny.yaml").read_text().replace("bake: 8h", "bkae: 8h")
    found = problems_of(text)
    assert any("strategy.bkae: unknown key 'bkae'; did you mean 'bake'?" in line for line in found)


def test_cross_references_are_checked_against_the_fleet():
    text = (ROOT / "scenarios" / "tiny.yaml").read_text().replace("    nano: {latency: 45ms, power: 8}\n", "")
    text += "  coverge: '> 90%'\n"
    found = problems_of(text)
    assert any("candidate.hardware: no latency and power given for fleet hardware 'nano'" in line for line in found)
    assert any("expect.coverge: unknown metric 'coverge'; did you mean 'coverage'?" in line for line in found)


@pytest.mark.parametrize("bound, says", [
    ("bricked: -1", "expect.bricked: no run can meet '== -1' (bricked is a whole number, never below 0)"),
    ("halted: 2", "expect.halted: no run can meet '== 2' (halted is 0 or 1): every run would break it"),
    ("t99: '< 0s'", "expect.t99: no run can meet '< 0s'"),
    ("cost: '< $0'", "expect.cost: no run can meet '< $0'"),
    ("coverage: '> 100%'", "expect.coverage: no run can meet '> 100%'"),
])
def test_a_bound_no_run_can_meet_is_refused_where_written(bound, says):
    """It would make every run a no-go by construction, and the report would call that a finding."""
    text = (ROOT / "scenarios" / "tiny.yaml").read_text().replace("  bricked: 0\n", f"  {bound}\n")
    assert text.endswith(f"  {bound}\n")
    [found] = problems_of(text)
    assert found.startswith("broken.yaml:48:3: " + says), found


@pytest.mark.parametrize("fault", ["{kind: power_cut, at: 1d, share: 0%}",
                                   "{kind: outage, at: 1d, duration: 1h, share: 0%}"])
def test_a_scripted_fault_that_hits_nothing_is_refused_like_one_after_the_end(fault):
    text = (ROOT / "scenarios" / "tiny.yaml").read_text().replace("artifact:", f"faults:\n  - {fault}\nartifact:", 1)
    [found] = problems_of(text)
    assert "faults.0.share: a share of 0% hits no site or device: this fault never happens" in found, found


@pytest.mark.parametrize("written, says", [
    ("games: {days: [sat, sun], start: \"14:00\", duration: 49h, probability: 50%}", "a game lasts"),
    ("games: {days: [sat, sun], start: \"14:00\", duration: 0s, probability: 50%}", "a game lasts"),
    ("games: {days: [sat, sun], start: \"14:00\", duration: 3h, probability: 50%}\n  power_loss_per_day: 1e9",
     "Input should be less than or equal to 1440"),
])
def test_a_game_beyond_a_day_and_a_power_cut_rate_beyond_one_a_minute_are_refused(written, says):
    """A 49-hour game was still on on its third day where the calendar, looking one day back, saw none; a rate of
    1e9 cuts a day never let the run end."""
    games = "games: {days: [sat, sun], start: \"14:00\", duration: 3h, probability: 50%}"
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    assert games in text
    text = text.replace(games, written).replace("  power_loss_per_day: 0.01\n", "")
    [found] = problems_of(text)
    assert says in found and ("games.duration" in found or "fleet.power_loss_per_day" in found), found


def test_a_spread_whose_min_is_above_its_max_is_refused_at_its_line():
    """numpy's clip gave every site the max and every camera the max storage, and nothing said so."""
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    text = text.replace("uplink: {median: 8Mbit/s, sigma: 0.5}",
                        "uplink: {median: 8Mbit/s, min: 10Mbit/s, max: 5Mbit/s}")
    text = text.replace("storage_free: {median: 4GB}", "storage_free: {median: 4GB, min: 5GB, max: 1GB}")
    assert [found.split(": ", 1)[1] for found in problems_of(text)] == [
        "fleet.site_kinds.gym.uplink: min is above max: no value lies between them",
        "fleet.storage_free: min is above max: no value lies between them"]


def test_a_rig_bound_in_a_scenario_without_rigs_is_refused():
    """`latency_p99: "< 1ms"` in a scenario with no hil: part was never judged: the run said GO and the bound
    appeared nowhere."""
    text = (ROOT / "scenarios" / "tiny.yaml").read_text().replace("  bricked: 0\n", '  latency_p99: "< 1ms"\n')
    [found] = problems_of(text)
    assert found.startswith("broken.yaml:48:3: expect.latency_p99: latency_p99 is measured on rigs, and this "
                            "scenario has no hil: part"), found
    load_scenario(ROOT / "scenarios" / "hil-orin-candidate.yaml")       # with a hil: part it is a bound like any


def test_a_bound_every_run_meets_is_a_warning_and_a_real_one_is_not():
    tiny = (ROOT / "scenarios" / "tiny.yaml").read_text()
    for bound in ("bricked: '>= 0'", "coverage: '<= 100%'", "halted: '!= 2'"):
        [(key, says)] = plan_warnings(load_scenario_text(tiny.replace("  bricked: 0\n", f"  {bound}\n")))
        assert key.startswith("expect.") and "it can never break" in says, says
    for bound in ("bricked: '<= 0'", "coverage: '> 95%'", "t95: '>= 0s'", "halted: 1", "bricked: '< 0.5'"):
        scenario = load_scenario_text(tiny.replace("  bricked: 0\n", f"  {bound}\n").replace("  t95: \"< 3d\"\n", ""))
        assert plan_warnings(scenario) == [], bound


def test_yaml_syntax_and_duplicate_keys_point_at_the_line():
    assert problems_of("name: x\nfleet: [unclosed\n")[0].startswith("broken.yaml:3:")
    assert "broken.yaml:2:1" in problems_of("name: x\nname: y\n")[0]


def test_a_duration_without_a_unit_is_an_error_not_seconds():
    text = (ROOT / "scenarios" / "tiny.yaml").read_text().replace("duration: 3d", "duration: 3")
    assert any("duration: expected a duration" in line for line in problems_of(text))


@pytest.mark.parametrize("written, read_as", [
    ("2.10", "the number 2.1"), ("3", "the number 3"), ("yes", None), ("true", "true"),
    ("2026-12-03", "a date (2026-12-03)"), ('"2.10"', None),
])
def test_text_written_without_quotes_that_yaml_reads_as_another_type_says_to_quote_it(written, read_as):
    """`version: 2.10` is the number 2.1 to YAML: it was refused as 'Input should be a valid string (got 2.1)', which
    named neither the cause nor the mend."""
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    assert '  version: "2.1"\n' in text
    changed = text.replace('  version: "2.1"\n', f"  version: {written}\n", 1)
    if read_as is None:                     # YAML 1.2 reads `yes` as text, and a quoted value is text
        assert load_scenario_text(changed, "fine.yaml").candidate.version == written.strip('"')
    else:
        assert problems_of(changed) == [f"broken.yaml:35:3: candidate.version: expected text; unquoted, YAML reads "
                                        f"this as {read_as}: write it in quotes"]


@pytest.mark.parametrize("old, new, says", [
    ("seed: 7", "seed: x", "seed: expected a whole number (got 'x')"),
    ("seed: 7", "seed: 7.5", "seed: expected a whole number (got 7.5)"),
    ("name: tiny", "name:", "name: expected text (got nothing: the key is there, its value empty)"),
    ("name: tiny", "name: [tiny]", "name: expected text (got a list)"),
    ("days: [sat, sun]", "days: weekends", "days: expected a list: [a, b], or one '- ' line per item (got 'weekends')"),
    ("resumable: true", "resumable: sometimes", "artifact.resumable: expected true or false (got 'sometimes')"),
    ("sigma: 0.5}", "sigma: wide}", "uplink.sigma: expected a number (got 'wide')"),
    ("  install_windows:\n    - {start: \"02:00\", duration: 4h}", "  install_windows: []",
     "fleet.install_windows: expected at least 1 item, got 0"),
])
def test_a_value_of_the_wrong_type_is_said_in_the_files_terms(old, new, says):
    """pydantic's words ("Input should be a valid integer, unable to parse string as an integer", "List should have
    at least 1 item after validation, not 0") named its own types, not what to write."""
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    assert old in text
    [found] = problems_of(text.replace(old, new, 1))
    assert found.endswith(says), found


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read the file: there is no such file$") as raised:
        load_scenario(tmp_path / "nope.yaml")
    assert "Errno" not in str(raised.value)


def test_a_folder_given_for_one_scenario_says_which_commands_take_folders(tmp_path):
    with pytest.raises(ScenarioError, match="it is a folder; give a file in it") as raised:
        load_scenario(tmp_path)
    assert "Errno" not in str(raised.value) and "`fleetlab run`" in str(raised.value)


def test_the_cli_prints_problems_and_exits_2_without_a_traceback(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)
    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", "validate", str(broken)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    assert f"{broken}:7:7: fleet.site_kinds.gym.uplnk: unknown key 'uplnk'; did you mean 'uplink'?" in done.stderr
    assert "7 problems found" in done.stderr


def test_a_refused_key_with_no_close_match_lists_the_keys_allowed_there(tmp_path):
    from sim.load import load_scenario_text
    from sim.model.errors import ScenarioError

    fault = "faults: [{kind: power_cut, at: 1h, cohort: {timezone: x}}]\n"
    text = (ROOT / "scenarios" / "tiny.yaml").read_text() + fault
    try:
        load_scenario_text(text, "x.yaml")
    except ScenarioError as error:
        [problem] = error.problems
        assert problem.message == "unknown key 'timezone' (allowed here: hardware, site_kind, camera_angle)"
    else:
        raise AssertionError("accepted")


@pytest.mark.parametrize("zone, seconds", [("UTC", 0), ("UTC+0", 0), ("UTC-05:00", -5 * 3600), ("UTC+5:45", 20700),
                                           ("UTC+14:00", 14 * 3600), ("UTC-12", -12 * 3600)])
def test_timezones_read_as_offsets_east_of_utc(zone, seconds):
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    text = text.replace('timezones: {"UTC-05:00": 50%, "UTC-08:00": 50%}', f'timezones: {{"{zone}": 100%}}')
    assert load_scenario_text(text).fleet.utc_offsets() == [(seconds, 1.0)]


@pytest.mark.parametrize("zone", ["UTC+99:00", "UTC+05:99", "UTC+15", "UTC-12:30", "Europe/Berlin"])
def test_a_timezone_no_place_has_is_refused_at_its_line(zone):
    """'UTC+99:00' was read as 99 hours east: every window and game of those sites moved by four days."""
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    text = text.replace('timezones: {"UTC-05:00": 50%, "UTC-08:00": 50%}', f'timezones: {{"{zone}": 100%}}')
    [found] = problems_of(text)
    assert found.startswith("broken.yaml:23:3: fleet.timezones: ") and repr(zone) in found, found


def test_shares_written_rounded_are_taken_and_a_real_shortfall_is_refused_with_its_sum():
    """Three boards at 0.333333 each were refused as "these add up to 100.0%" (the sum rounded in the message, the
    check exact to 1e-6); 33.3% three times too."""
    tiny = (ROOT / "scenarios" / "tiny.yaml").read_text()
    thirds = tiny.replace("hardware: {orin-nx: 70%, nano: 30%}",
                          "hardware: {orin-nx: 33.3%, nano: 33.3%, xavier: 33.3%}")
    thirds = thirds.replace("    nano: {latency: 45ms, power: 8}", "    nano: {latency: 45ms, power: 8}\n"
                            "    xavier: {latency: 20ms, power: 10}")
    scenario = load_scenario_text(thirds)
    assert sum(scenario.fleet.hardware.values()) == pytest.approx(1.0, abs=1e-12)
    boards = {hardware for hardware, _, _ in build_layout(scenario.fleet, scenario.seed).cohorts()}
    assert boards == {"orin-nx", "nano", "xavier"}
    short = problems_of(thirds.replace("xavier: 33.3%}", "xavier: 32%}"))
    assert any("shares must add up to 100% (give or take 0.1% of rounding), these add up to 98.6%" in line
               for line in short), short


def test_validate_warns_of_hil_models_and_frames_fleetlab_hil_would_refuse(tmp_path):
    """A typo in a builtin model's name, a model file that is not there and frames outside the scenario's folder
    validated as "ok" and were refused only once `fleetlab hil` had leased the rigs."""
    text = (ROOT / "scenarios" / "hil-orin-candidate.yaml").read_text()
    broken = (text.replace("current_model: builtin:current", "current_model: builtin:currnet")
              .replace("candidate_model: builtin:candidate", "candidate_model: models/missing.onnx")
              .replace("frames: builtin", "frames: ../outside"))
    (tmp_path / "hil.yaml").write_text(broken)
    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", "validate", str(tmp_path / "hil.yaml")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr              # a sim run needs none of them: warnings, not errors
    line = broken.splitlines().index("  current_model: builtin:currnet") + 1
    assert f"hil.yaml:{line}:3: hil.current_model: unknown builtin model 'currnet'" in done.stderr, done.stderr
    assert "hil.candidate_model: 'models/missing.onnx'" in done.stderr and "is not a file" in done.stderr
    assert "hil.frames: '../outside' resolves to" in done.stderr and "outside the scenario's folder" in done.stderr
    shipped = subprocess.run([sys.executable, "-m", "fleetlab.cli", "validate", "scenarios/hil-orin-candidate.yaml"],
                             capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert shipped.returncode == 0 and "warning" not in shipped.stderr, shipped.stderr


@pytest.mark.parametrize("key", ["current_model: builtin:current", "candidate_model: builtin:candidate",
                                 "frames: builtin"])
def test_an_empty_hil_model_or_frames_is_an_error_not_the_scenarios_folder(key):
    """`candidate_model: ""` validated with a warning that the scenario's folder "is not a file"."""
    text = (ROOT / "scenarios" / "hil-orin-candidate.yaml").read_text()
    name = key.split(":")[0]
    [found] = problems_of(text.replace(f"  {key}\n", f'  {name}: ""\n'))
    assert f"hil.{name}: must not be empty: name a file or builtin, or leave the key out" in found, found


@pytest.mark.parametrize("name, says", [('" "', "a scenario needs a name"),
                                        ('"two\\nlines"', "a name is one line")])
def test_a_blank_or_multi_line_scenario_name_is_refused(name, says):
    """A blank name was a blank row in the history, keyed by ''; a name with a newline printed on two lines."""
    [found] = problems_of((ROOT / "scenarios" / "tiny.yaml").read_text().replace("name: tiny", f"name: {name}"))
    assert found.startswith(f"broken.yaml:2:1: name: {says}"), found


def test_a_finding_must_name_an_expectation_and_say_what_it_shows():
    """An empty sentence printed 'EXPECTED FINDING' beside the row with nothing to say why."""
    text = (ROOT / "scenarios" / "tiny.yaml").read_text() + 'findings:\n  cost: "shows cost"\n  bricked: " "\n'
    found = [problem.split(": ", 1)[1] for problem in problems_of(text)]
    assert found == ["findings.cost: a finding names an expectation; expect: has no 'cost'",
                     "findings.bricked: say what the finding shows: the report prints it beside the row"]


@pytest.mark.parametrize("name, says", [
    ("plan", "alternatives.plan: 'plan' names the scenario's own strategy"),
    ('"a,b"', "alternatives.a,b: a plan's name is letters, digits, '_' and '-' (got 'a,b')"),
    ('"two words"', "alternatives.two words: a plan's name is letters, digits"),
])
def test_an_alternative_that_compare_and_sweep_cannot_name_is_refused(name, says):
    """An alternative called 'plan' was shadowed by the scenario's own strategy (compare showed one column and the
    alternative nowhere); 'a,b' could not be named on --strategies, which splits on commas."""
    text = (ROOT / "scenarios" / "tiny.yaml").read_text() + f"alternatives:\n  {name}: {{kind: all_at_once}}\n"
    [found] = problems_of(text)
    assert says in found, found


def test_validate_warns_of_hil_faults_fleetlab_hil_would_refuse(tmp_path):
    """An unknown fault or fault point validated as 'ok' and was refused only when `fleetlab hil` started."""
    text = (ROOT / "scenarios" / "hil-orin-candidate.yaml").read_text()
    broken = text.replace("  rig_tags: [orin]\n", "  rig_tags: [orin]\n  faults: [{fault: link_dorp, at_step: "
                                                   "transfer@150%}, {fault: power_cut, at_step: before:build}]\n")
    (tmp_path / "hil.yaml").write_text(broken)
    done = subprocess.run([sys.executable, "-m", "fleetlab.cli", "validate", str(tmp_path / "hil.yaml")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    warned = re.findall(r"^warning: .*?:\d+:\d+: (\S+): (.*)$", done.stderr, re.MULTILINE)
    assert [key for key, _ in warned] == ["hil.faults.0.fault", "hil.faults.0.at_step"], warned
    assert "unknown fault 'link_dorp'" in warned[0][1] and "unknown fault point 'transfer@150%'" in warned[1][1]


def test_sim_and_compare_say_the_plan_traps_before_their_tables(tmp_path):
    """`fleetlab sim` of waves [10%, 50%] printed T95 "—" and a not-released count; the trap's warning, which says
    why, was only in `validate`, `lint` and the suite's report."""
    short = tmp_path / "short.yaml"
    short.write_text((ROOT / "scenarios" / "tiny.yaml").read_text().replace("waves: [10%, 50%, 100%]",
                                                                             "waves: [10%, 50%]"))
    for command in (["sim", str(short)], ["compare", str(short), "--seeds", "1"]):
        done = subprocess.run([sys.executable, "-m", "fleetlab.cli", *command], capture_output=True, text=True,
                              cwd=ROOT, timeout=120)
        assert "strategy.waves.1: the last wave is 50%" in done.stderr, (command, done.stderr)
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize("written, says", [
    ("delivery: {in_progress_timeout: 30s}", "broken.yaml:29:12: delivery.in_progress_timeout: at least 1m"),
    ("delivery: {timeout_retries: 3}", "broken.yaml:29:12: delivery.timeout_retries: needs "
                                       "delivery.in_progress_timeout"),
    ("delivery: {in_progress_timeout: 1h, timeout_retries: 11}", "broken.yaml:29:37: delivery.timeout_retries: Input "
                                                                 "should be less than or equal to 10"),
])
def test_a_timeout_below_a_minute_and_retries_without_a_timeout_are_refused_at_their_key(written, says):
    text = (ROOT / "scenarios" / "tiny.yaml").read_text().replace("artifact:", f"{written}\nartifact:", 1)
    [found] = problems_of(text)
    assert found.startswith(says), found


def test_an_agent_polling_faster_than_once_a_second_is_refused_at_its_key():
    text = (ROOT / "scenarios" / "tiny.yaml").read_text().replace("fleet:\n", "fleet:\n  poll_interval: 0.5s\n", 1)
    [found] = problems_of(text)
    assert found.startswith("broken.yaml:8:3: fleet.poll_interval: at least 1s: an agent asks for orders"), found


@pytest.mark.parametrize("written, instead, said", [
    ("storage_free: {median: 4GB}", "storage_free: 4GB",
     "fleet.storage_free: expected a mapping of keys (median, sigma, min, max) (got '4GB')"),
    ("storage_free: {median: 4GB}", "storage_free: [4GB]",
     "fleet.storage_free: expected a mapping of keys (median, sigma, min, max) (got a list)"),
    ("  site_kinds:\n", "  site_kinds: 3\n  other:\n", "fleet.site_kinds: expected a mapping (got 3)"),
])
def test_a_value_where_a_mapping_is_due_names_the_keys_it_may_hold(written, instead, said):
    """pydantic said 'Input should be a valid dictionary or instance of StorageSpread': a class the file never
    names."""
    text = (ROOT / "scenarios" / "tiny.yaml").read_text()
    assert written in text
    found = problems_of(text.replace(written, instead, 1))
    assert any(said in line for line in found), found
    assert not any("instance of" in line for line in found), found


def test_a_time_bound_longer_than_the_run_is_a_warning_with_the_duration_that_judges_it():
    """`t95: "< 5d"` in a 3-day run: a T95 after the run's end is never measured and breaks the bound, so the
    verdict allowed 3 days where the file reads as allowing 5."""
    tiny = (ROOT / "scenarios" / "tiny.yaml").read_text()
    [(key, says)] = plan_warnings(load_scenario_text(tiny.replace('t95: "< 3d"', 't95: "< 5d"')))
    assert key == "expect.t95" and says == (
        "'< 5d' reaches past the run's 3d 0h (duration): a T95 after the run's end is never measured and breaks the "
        "bound, so it holds only within 3d 0h; a duration of at least 5d 0h judges it as written")
    for sound in ('t95: "< 3d"', 't95: "> 1d"', 't95: "<= 2d"'):      # within the run, or a floor
        assert plan_warnings(load_scenario_text(tiny.replace('t95: "< 3d"', sound))) == [], sound
    longer = tiny.replace('t95: "< 3d"', 't95: "< 5d"').replace("duration: 3d", "duration: 5d")
    assert plan_warnings(load_scenario_text(longer)) == []
    [(key, says)] = plan_warnings(load_scenario_text(tiny.replace('t95: "< 3d"', 't95: "> 3d"')))
    assert says == ("no run can meet '> 3d': a T95 is measured only within the run's 3d 0h (duration), and one never "
                    "reached breaks the bound")
