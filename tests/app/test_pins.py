"""The virtual rigs install the same versions the host's `hil` extra pins: a rig whose onnxruntime or onnx differs
from the host's would make parity against the host's reference outputs a test of two versions, and an unpinned
ml_dtypes 0.7.0 costs every engine build 0.7 s (rigs/virtual/requirements.txt)."""

import re
import tomllib

from tests.conftest import ROOT


def pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==([^\s#;]+)\s*", line.split("#")[0])
        if match:
            found[match.group(1).lower().replace("-", "_")] = match.group(2)
    return found


def test_the_virtual_rigs_pin_what_the_host_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    host = pins(project["dependencies"] + project["optional-dependencies"]["hil"])
    rig = pins((ROOT / "rigs" / "virtual" / "requirements.txt").read_text().splitlines())
    assert set(rig) == {"onnxruntime", "numpy", "onnx", "ml_dtypes"}, rig
    assert {name: host.get(name) for name in rig} == rig
