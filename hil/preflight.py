"""Preflight facts of a rig — L4T release, board model, power mode, free space, idle temperature — and whether
they are what the inventory expects."""

from __future__ import annotations

from hil.inventory import Rig
from hil.parsers import (
    ParseError,
    TegraSample,
    parse_device_tree_strings,
    parse_df_available_bytes,
    parse_nv_tegra_release,
    parse_nvpmodel_query,
    parse_trtexec,
)
from hil.rig_telemetry import one_sample
from hil.shell import Shell, command

MIN_FREE_BYTES = 256 * 2**20


def preflight(shell: Shell, rig: Rig, needs: int = MIN_FREE_BYTES) -> tuple[dict[str, str], TegraSample | None,
                                                                              list[str]]:
    """(facts, a tegrastats sample at rest, problems). A rig whose facts cannot be read, or differ from the
    inventory, or whose store has less than `needs` bytes free (the model, its engine and a staging copy), fails."""
    facts: dict[str, str] = {}
    problems: list[str] = []
    release = shell.run(command("cat", rig.facts.nv_tegra_release), timeout=30)
    try:
        parsed = parse_nv_tegra_release(release.stdout)
        facts.update(l4t=parsed.l4t, board=parsed.board or "", jetpack=parsed.jetpack_major or "")
        if rig.jetpack and parsed.jetpack_major and not rig.jetpack.startswith(parsed.jetpack_major):
            problems.append(f"runs L4T {parsed.l4t} (JetPack {parsed.jetpack_major}), the inventory expects "
                            f"JetPack {rig.jetpack}")
    except ParseError as error:
        problems.append(f"{rig.facts.nv_tegra_release}: {error}")
    model = shell.run(command("cat", rig.facts.device_model), timeout=30)
    try:
        facts["model"] = parse_device_tree_strings(model.stdout)[0]
    except ParseError:
        problems.append(f"cannot read the board model from {rig.facts.device_model}")
    power = shell.run(command(rig.tools.nvpmodel, "-q"), timeout=30)
    try:
        facts["power_mode"] = parse_nvpmodel_query(power.stdout).name
    except ParseError:
        facts["power_mode"] = "unknown"     # nvpmodel -q can time out under load: not a reason to stop
    version = shell.run(command(rig.tools.trtexec, "--version"), timeout=60)
    try:
        facts["tensorrt"] = parse_trtexec(version.stdout).version or "unknown"
    except ParseError:
        facts["tensorrt"] = "unknown"
    if rig.tensorrt and facts["tensorrt"] != "unknown" and not facts["tensorrt"].startswith(rig.tensorrt):
        problems.append(f"has TensorRT {facts['tensorrt']}, the inventory expects {rig.tensorrt}")
    free = shell.run(command("df", "-Pk", rig.store), timeout=30)
    try:
        available = parse_df_available_bytes(free.stdout)
        facts["store_free_bytes"] = str(available)
        if available < needs:
            problems.append(f"disk full: only {available // 1024} KiB free in {rig.store}, the update needs "
                            f"{needs // 1024} KiB")
    except ParseError:
        problems.append(f"cannot read free space of {rig.store}")
    return facts, one_sample(shell, rig.tools.tegrastats), problems
