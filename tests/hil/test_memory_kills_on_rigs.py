"""A failed step says when the rig's kernel killed a process for memory meanwhile (hil/memory_kills.py): the count
is read at preflight and after each failed step from the inventory's `facts.oom_kills`. Fast rigs: LocalShell and
the rig tools in temporary folders, with the count in a file of the test's (the Docker rigs' real kills are in
tests/virtual/test_fault_matrix.py)."""

from __future__ import annotations

import pytest

from fleetlab.report.html import render
from tests.hil.local_rigs import one_night, run, scenario, step_named, table_text

pytestmark = pytest.mark.timeout(300)
BROKEN = {"candidate_model": "builtin:broken", "faults": [{"fault": "count_moves", "at_step": "before:build"}]}


@pytest.mark.parametrize(("before", "after", "kills"), [
    ("nr_free_pages 7\noom_kill 3\n", "nr_free_pages 7\noom_kill 4\n", 1),
    ("oom_kill 3\n", "oom_kill 5\n", 2),
    ("oom_kill 3\n", "oom_kill 3\n", 0),                        # it failed of something the kernel did not do
    ("nr_free_pages 7\n", "nr_free_pages 7\n", 0),              # a kernel that keeps no count (JetPack 4)
], ids=["one kill", "two kills", "none", "not counted"])
def test_a_failed_build_says_what_the_kernel_killed_for_memory_meanwhile(local_rigs, tmp_path, before, after, kills):
    rig = local_rigs()[0]
    counted = tmp_path / "vmstat"
    counted.write_text(before)
    rig["facts"]["oom_kills"] = [str(tmp_path / "no-such-file"), str(counted)]      # the first one found counts
    result, _, _ = run(scenario({"kind": "all_at_once"}, hil=BROKEN), [rig],
                       injectors={"count_moves": lambda shell: counted.write_text(after)})
    [done] = result.rigs
    build = step_named(done, "build")
    assert build.outcome == "failed" and "engine build failed" in build.detail, build.detail
    said = {0: "", 1: " (the rig's kernel killed 1 process for memory since preflight)",
            2: " (the rig's kernel killed 2 processes for memory since preflight)"}[kills]
    assert build.detail.endswith(said) and said in done.reason and "for memory" not in build.detail[:-len(said) or None]
    assert build.numbers.get("oom_kills") == (kills or None)
    assert done.memory_kills == kills and ("OOM kills" in table_text(result)) == (kills > 0)
    assert (f"failed · {kills} out-of-memory kill" in render(one_night(result))) == (kills > 0)
