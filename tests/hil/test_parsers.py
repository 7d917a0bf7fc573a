"""The parsers against every real sample in ../shared/jetson-samples/, the shapes FORMATS.md names, and noise."""

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil.parsers import (
    ParseError,
    latency_from_export_times,
    parse_device_tree_strings,
    parse_df_available_bytes,
    parse_nv_tegra_release,
    parse_nvpmodel_query,
    parse_oom_kills,
    parse_tegrastats_line,
    parse_trtexec,
    version_from_tag,
)

# a copy of ../shared/jetson-samples (real outputs, each file naming its public source), kept with the tests
SAMPLES = Path(__file__).parent / "samples"


def sample_lines(pattern: str) -> list[tuple[str, str]]:
    return [(path.name, line) for path in sorted(SAMPLES.glob(pattern)) for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def sections(name: str) -> list[str]:
    """Sample files join several logs under '# ----' headings: each is one tool run."""
    chunks, current = [], []
    for line in (SAMPLES / name).read_text().splitlines():
        if line.startswith("# ----") and current:
            chunks.append("\n".join(current))
            current = []
        elif not line.startswith("#"):
            current.append(line)
    return [chunk for chunk in [*chunks, "\n".join(current)] if chunk.strip()]


@pytest.mark.parametrize("name, line", sample_lines("tegrastats_*.txt"), ids=lambda value: str(value)[:40])
def test_every_sample_tegrastats_line_parses_with_ram_cpus_temperatures_and_power(name, line):
    sample = parse_tegrastats_line(line)
    assert 0 < sample.ram_used_mb <= sample.ram_total_mb
    assert len(sample.cpus) >= 4
    assert sample.temperatures and all(-100 < celsius < 130 for celsius in sample.temperatures.values())
    assert sample.board_power_mw is not None and sample.board_power_mw > 0


def test_agx_orin_offline_sensors_are_excluded_and_duplicate_rails_kept():
    [line] = [line for _, line in sample_lines("tegrastats_agx_orin64_jp6.txt")]
    sample = parse_tegrastats_line(line)
    assert "CV0" not in sample.temperatures and "GPU" not in sample.temperatures     # -256C: offline
    assert sample.temperatures["tj"] == 44.343 and sample.max_temperature == 44.562
    assert [rail.name for rail in sample.rails].count("NC") == 2
    assert sample.board_power_mw == 2340 + 390 + 4025 + 0 + 301 + 0                   # AGX: no total, sum the rails
    assert sample.engines["GR3D_FREQ"].frequencies == (0, 0) and sample.timestamp == "04-11-2025 10:36:27"


def test_jetpack7_two_value_temperatures_and_three_value_rails():
    [line] = [line for _, line in sample_lines("tegrastats_agx_orin_jp72.txt")]
    sample = parse_tegrastats_line(line)
    assert sample.temperatures["cpu"] == 52.968
    assert sample.rails[0].name == "VDD_GPU_SOC" and sample.rails[0].peak_mw == 5139
    assert sample.gpu_load == 12 and sample.engines["NVENC0"].off


def test_jetpack42_short_rail_names_do_not_collide_with_sensors_and_pmic_is_a_placeholder():
    [line] = [line for _, line in sample_lines("tegrastats_agx_xavier_jp42.txt")]
    sample = parse_tegrastats_line(line)
    assert sample.temperatures["GPU"] == 30.5 and "PMIC" not in sample.temperatures
    assert ("GPU", 463.0) in [(rail.name, rail.current_mw) for rail in sample.rails]


def test_nano_total_power_is_pom_5v_in_and_cores_that_are_off_have_no_load():
    nano = parse_tegrastats_line(sample_lines("tegrastats_nano_jp4.txt")[0][1])
    assert nano.board_power_mw == 4122 and nano.gpu_load == 28 and nano.cpus[0].frequency == 1479
    orin = parse_tegrastats_line(sample_lines("tegrastats_orin_jp5_and_xaviernx_jp5_unattributed.txt")[0][1])
    assert orin.cpus[-1].load is None and orin.cpu_load == pytest.approx((11 + 13 + 9 + 18) / 4)


@pytest.mark.parametrize("line, check", [
    ("RAM 1501/3956MB (lfb 332x4MB) cpu [17%,13%,29%,5%]@408 EMC 1%@408 GR3D 3%@76 CPU@44C",       # L4T 28
     lambda s: s.cpus[2].load == 29 and s.cpus[2].frequency == 408 and s.gpu_load == 3),
    ("RAM 9000/62000MB (lfb 1x2MB) CPU [1%@1000] GR3D_FREQ @[1000,1000,1000] cpu@50C",               # Thor
     lambda s: s.gpu_load is None and s.engines["GR3D_FREQ"].frequencies == (1000, 1000, 1000)),
    ("RAM 1000/4000MB (lfb 10x512kB) SWAP 0/2000MB (cached 0MB) CPU [off,off] GR3D_FREQ 0%",        # no rails
     lambda s: s.board_power_mw is None and s.swap_total_mb == 2000 and s.cpu_load is None),
])
def test_shapes_named_in_formats_md_beyond_the_samples(line, check):
    assert check(parse_tegrastats_line(line))


def test_trtexec_86_summary_has_all_percentiles_and_passes():
    report = parse_trtexec(sections("trtexec_trt86plus_p90_p95_p99.txt")[1])
    assert report.latency.percentiles == {90.0: 10.2996, 95.0: 10.8698, 99.0: 12.9675}
    assert report.latency.median == 7.16092 and report.throughput_qps == 130.298
    assert report.metrics["GPU Compute Time"].max == 13.3388


def test_trtexec_84_pass_marker_version_and_p99_only():
    report = parse_trtexec((SAMPLES / "trtexec_trt84_agx_xavier_pass.txt").read_text())
    assert report.passed and report.version == "8.4.0" and report.command.startswith("trtexec --loadEngine")
    assert report.latency.percentiles == {99.0: 0.420288} and report.latency.min == 0.387207


def test_trtexec_80_end_to_end_and_trt5_average_over_runs():
    assert parse_trtexec(sections("trtexec_trt80_summary_with_e2e.txt")[0]).metrics[
        "End-to-End Host Latency"].mean == 636.196
    old = parse_trtexec((SAMPLES / "trtexec_trt5or6_xavier_average_over_runs.txt").read_text())
    assert old.latency.mean == 55.2518 and old.latency.percentiles == {99.0: 59.9569} and old.version is None


@pytest.mark.parametrize("index, marker", [(0, "FAILED"), (4, "FAILED")])
def test_trtexec_failures_are_failed_with_their_error_lines(index, marker):
    report = parse_trtexec(sections("trtexec_failures.txt")[index])
    assert report.result == marker and not report.passed
    if index == 0:
        assert "Failed to parse onnx file" in report.errors and report.version == "8.4.0"


def test_tactic_warnings_alone_are_not_a_failure():
    report = parse_trtexec(sections("trtexec_failures.txt")[3])
    assert report.result is None and report.errors == ()


def test_version_tags_and_the_tensorrt10_build_tag():
    assert [version_from_tag(tag) for tag in ("8601", "8400", "100200", "101303", "90200")] == \
        ["8.6.1", "8.4.0", "10.2.0", "10.13.3", "9.2.0"]
    report = parse_trtexec("&&&& PASSED TensorRT.trtexec [TensorRT v101000] [b31] # trtexec --onnx=x.onnx\n")
    assert report.passed and report.version == "10.10.0"
    assert parse_trtexec((SAMPLES / "trtexec_trt10_orin_device_info_l4t39.txt").read_text()).version == "10.16.2"


def test_trtexec7_host_latency_blocks():
    text = "\n".join(f"[07/16/2020-17:26:43] [I] {body}" for body in [
        "Host Latency", "min: 2.33 ms (end to end 2.35 ms)", "max: 4.2 ms (end to end 4.22 ms)",
        "mean: 2.41 ms (end to end 2.42 ms)", "median: 2.40 ms (end to end 2.41 ms)",
        "percentile: 2.5 ms at 99% (end to end 2.52 ms at 99%)", "throughput: 410 qps", "walltime: 3.0 s",
        "GPU Compute", "min: 2.18 ms", "percentile: 2.3 ms at 99%"])
    report = parse_trtexec(text)
    assert report.latency.mean == 2.41 and report.latency.percentiles == {99.0: 2.5}
    assert report.metrics["End-to-End Host Latency"].min == 2.35 and report.throughput_qps == 410
    assert report.metrics["GPU Compute Time"].percentiles == {99.0: 2.3}


def test_export_times_statistics_drop_the_warm_up():
    timings = [{"startEnqMs": i, "latencyMs": 100.0} for i in range(5)] + \
              [{"startEnqMs": i, "latencyMs": float(i)} for i in range(1, 101)]
    stats = latency_from_export_times(json.dumps(timings), warmup=5)
    assert stats.min == 1 and stats.max == 100 and stats.median == 50.5
    assert stats.percentiles[99.0] == pytest.approx(99.01)
    with pytest.raises(ParseError, match="latencyMs"):
        latency_from_export_times('[{"computeMs": 1}]')


def test_device_facts_from_the_samples():
    release = parse_nv_tegra_release("# R35 (release), REVISION: 3.1, GCID: 32827747, BOARD: t186ref, EABI: aarch64,"
                                     " DATE: Sun Mar 19 15:19:21 UTC 2023")
    assert release.l4t == "35.3.1" and release.jetpack_major == "5" and release.board == "t186ref"
    r36 = parse_nv_tegra_release("# R36 (release), REVISION: 4.4, GCID: 34842085, BOARD: t186ref, EABI: aarch64\n"
                                 "# KERNEL_VARIANT: oot\n")
    assert r36.l4t == "36.4.4" and r36.date is None and r36.extras == {"KERNEL_VARIANT": "oot"}
    assert parse_device_tree_strings(b"NVIDIA Orin NX Developer Kit\x00") == ["NVIDIA Orin NX Developer Kit"]
    assert parse_nvpmodel_query("NV Fan Mode:quiet\nNV Power Mode: MAXN\n").name == "MAXN"
    assert parse_nvpmodel_query("NV Power Mode: 5W\n1\nNVPM ERROR: Error opening x: 13\n").mode_id == 1
    df = "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/root 100 50 4096 50% /\n"
    assert parse_df_available_bytes(df) == 4096 * 1024


def test_the_kernels_count_of_out_of_memory_kills_is_read_where_it_keeps_one():
    vmstat = "nr_free_pages 61540\noom_kill 2\nnuma_hit 1\n"          # /proc/vmstat, kernels from 4.13
    events = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 3\noom_group_kill 0\n"   # a cgroup v2 memory.events
    control = "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"             # a cgroup v1 memory.oom_control
    assert (parse_oom_kills(vmstat), parse_oom_kills(events), parse_oom_kills(control)) == (2, 3, 1)
    assert parse_oom_kills("nr_free_pages 61540\npgfault 9\n") is None          # JetPack 4's 4.9 counts none
    assert parse_oom_kills(control + vmstat) == 1                              # the first file read counts


PARSERS = [parse_tegrastats_line, parse_trtexec, parse_nv_tegra_release, parse_nvpmodel_query,
           parse_df_available_bytes, parse_device_tree_strings, latency_from_export_times]


@pytest.mark.parametrize("parser", PARSERS, ids=lambda parser: parser.__name__)
@given(text=st.text(max_size=300) | st.text(alphabet="RAMCPU[]%@/0123456789 .,:-mWkBxlfbC()&#EI", max_size=200))
def test_arbitrary_text_either_parses_or_raises_the_parsers_own_clear_error(parser, text):
    try:
        parser(text)
    except ParseError as error:
        assert "cannot read" in str(error)


GARBLED = ["1.2.3", "-", "1e", "+", ".", "1e999", "--5", "e"]    # what a cut or interleaved log prints


@given(data=st.data())
def test_a_real_log_with_one_number_garbled_parses_or_raises_the_parsers_own_error(data):
    """Real trtexec runs, one number replaced by a garbled one the patterns' character classes still admit:
    "Throughput: - qps" and "min = 1.2.3 ms" once escaped as a bare ValueError."""
    import re

    log = data.draw(st.sampled_from([chunk for path in sorted(SAMPLES.glob("trtexec*.txt"))
                                     for chunk in sections(path.name)]))
    numbers = list(re.finditer(r"\d+(?:\.\d+)?", log))
    number = data.draw(st.sampled_from(numbers))
    garbled = log[:number.start()] + data.draw(st.sampled_from(GARBLED)) + log[number.end():]
    try:
        parse_trtexec(garbled)
    except ParseError as error:
        assert "cannot read trtexec output" in str(error)


@pytest.mark.parametrize("line", [
    "[12/11/2025-10:00:29] [I] Throughput: - qps",
    "[12/11/2025-10:00:29] [I] Latency: min = 1.2.3 ms, max = 2.0 ms, mean = 1.5 ms",
    "[12/11/2025-10:00:29] [I] Latency: min = 1e999 ms",
])
def test_garbled_summary_numbers_name_their_line(line):
    with pytest.raises(ParseError, match="number"):
        parse_trtexec(line)


@pytest.mark.parametrize("text", ['[{"latencyMs": NaN}]', '[{"latencyMs": 1e999}]', "[" * 100_000])
def test_export_times_that_are_not_finite_timings_are_refused(text):
    with pytest.raises(ParseError, match="exportTimes"):
        latency_from_export_times(text)


@pytest.mark.parametrize("written", ["5", "[[1, 2]]", '[{"dimensions": "2x2", "values": [1, 2, 3]}]', "[" * 100_000,
                                     '[{"values": [1]}]', "[]", "not json"])
def test_an_engine_output_the_rig_wrote_unreadably_is_a_failed_inference_not_an_internal_error(written):
    """A number, a list of lists or [[[[… a hundred thousand deep was a TypeError / RecursionError: the run called it
    'internal error in fleetlab' instead of saying the rig's output could not be read."""
    from types import SimpleNamespace

    from hil.steps import Failed, infer

    shell = SimpleNamespace(run=lambda *args, **kwargs: SimpleNamespace(ok=True, stdout=written, exit_status=0))
    store = SimpleNamespace(path=lambda *parts: "/store/" + "/".join(parts))
    rig = SimpleNamespace(tools=SimpleNamespace(trtexec="trtexec"))
    found = infer(shell, rig, store, "a", "front", "/store/tmp/frames-front.bin", (1, 3, 64, 64))
    assert isinstance(found, Failed) and "unreadable --exportOutput" in found.why
