#!/usr/bin/env python3
"""An nvpmodel-compatible `-q` for virtual rigs: prints the power mode from $FLEETLAB_RIG_HOME/profile.json."""

import json
import os
import sys


def main(argv: list[str]) -> int:
    if argv[:1] != ["-q"]:
        print("NVPM ERROR: only -q is emulated on virtual rigs", file=sys.stderr)
        return 1
    try:
        with open(os.path.join(os.environ.get("FLEETLAB_RIG_HOME", "/var/lib/fleetlab-rig"), "profile.json")) as f:
            profile = json.load(f)
    except (OSError, ValueError):
        profile = {}
    print(f"NV Power Mode: {profile.get('power_mode', 'MAXN')}")
    print(profile.get("power_mode_id", 0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
