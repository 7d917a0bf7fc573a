"""Errors of the HIL runner, as a tree. A test that fails on a rig is data (a failed StepResult), never one of these;
these mean the harness could not measure.

FleetlabError (sim.model.errors)
└── HilError
    ├── InventoryError          the rigs file is wrong (ScenarioError carries positioned problems; this is the rest)
    ├── HostKeyError            refused before any credential was sent
    │   ├── HostKeyUnknown      the rig has no pinned key: check it, then `fleetlab rigs trust`
    │   └── HostKeyChanged      the rig offered a different key than the pinned one
    ├── InfrastructureError     retried: the network, sshd or the rig's OS got in the way
    │   ├── ConnectionLost      could not connect, or the connection dropped mid-command
    │   └── CommandTimeout      a remote command ran past its timeout (it was killed)
    ├── AuthenticationFailed    the rig refused the key, or key_env names an unset variable (not retried)
    ├── LeaseHeld               somebody else holds the rig's lease and it has not expired
    ├── LeaseLost               our lease was taken over (or could not be renewed before it expired): hands off
    └── VirtualRigError         (hil.virtual) no Docker engine, no image, a fault a virtual rig cannot take
ParseError (hil.parsers)        tool output that is not what the tool prints; names the line
"""

from __future__ import annotations

from sim.model.errors import FleetlabError


class HilError(FleetlabError):
    pass


class InventoryError(HilError):
    pass


class HostKeyError(HilError):
    pass


class HostKeyUnknown(HostKeyError):
    pass


class HostKeyChanged(HostKeyError):
    pass


class InfrastructureError(HilError):
    pass


class ConnectionLost(InfrastructureError):
    pass


class CommandTimeout(InfrastructureError):
    pass


class AuthenticationFailed(HilError):
    pass


class LeaseHeld(HilError):
    def __init__(self, rig: str, owner: str, expires_in: float) -> None:
        super().__init__(f"rig {rig} is leased by {owner} for another {expires_in:.0f} s")
        self.owner, self.expires_in = owner, expires_in


class LeaseLost(HilError):
    pass
