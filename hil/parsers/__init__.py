"""Pure parsers of Jetson tool output (no I/O). Every shape in ../shared/jetson-samples/FORMATS.md is handled; text
that is not the tool's output raises ParseError naming the line, never anything else."""

from hil.parsers.errors import ParseError
from hil.parsers.facts import (
                               PowerMode,
                               TegraRelease,
                               parse_device_tree_strings,
                               parse_df_available_bytes,
                               parse_nv_tegra_release,
                               parse_nvpmodel_query,
                               parse_oom_kills,
)
from hil.parsers.tegrastats import CpuCore, Engine, Rail, TegraSample, parse_tegrastats, parse_tegrastats_line
from hil.parsers.trtexec import LatencyStats, TrtexecReport, latency_from_export_times, parse_trtexec, version_from_tag

__all__ = ["CpuCore", "Engine", "LatencyStats", "ParseError", "PowerMode", "Rail", "TegraRelease", "TegraSample",
           "TrtexecReport", "latency_from_export_times", "parse_device_tree_strings", "parse_df_available_bytes",
           "parse_nv_tegra_release", "parse_nvpmodel_query", "parse_oom_kills", "parse_tegrastats",
           "parse_tegrastats_line",
           "parse_trtexec", "version_from_tag"]
