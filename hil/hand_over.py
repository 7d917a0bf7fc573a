"""`delivery.update_strategy: hand_over` on a rig (balena's hand-over): the activation starts the candidate's
service beside the one serving, which stops only once the new one serves, so the camera is never without a model.

What a rig adds to the simulator's account: whether the board holds both models at once. tegrastats runs through
the hand-over, and its peak RAM in use is the activation's `memory_beside_bytes` (and counts in the rig's RAM in use);
a peak over `hil.max_memory` fails the activation, as a service the kernel killed for memory would. A new service
that does not come up leaves the old one serving: the store's `active` is put back at once, and the restore after it
only checks the old one and proves its outputs (`RigSteps.switch_back(..., still_serving=True)`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hil import steps
from hil.recorder import StepHandle
from hil.rig_telemetry import summarize, tegrastats_alongside, telemetry_problems
from sim.model.units import format_size

if TYPE_CHECKING:
    from hil.rig_steps import RigSteps

NOT_HANDED_OVER = "the candidate did not come up beside the current model, which kept serving"


def hand_over(rig: RigSteps, step: StepHandle) -> None:
    """The activation's service part under hand_over: the store already points at the candidate."""
    session, found = rig.s, rig.s.found
    logfile = rig.store.path("tmp", "tegrastats-hand-over.log")
    with tegrastats_alongside(rig.shell, session.rig.tools.tegrastats, logfile,
                              keep_in=found.telemetry) as found.hand_over_telemetry:
        outcome = steps.hand_over_and_check(rig.shell, session.rig)
    both = summarize(found.hand_over_telemetry)
    ram = ""
    if both.max_memory is not None:
        step.numbers["memory_beside_bytes"] = both.max_memory
        # a newcomer that died as it started never ran beside the old one: the peak is the attempt's
        ram = (f"; both models ran with {format_size(both.max_memory)} of RAM in use" if outcome.handed else
               f"; {format_size(both.max_memory)} of RAM in use at the attempt's peak")
    step.detail = outcome.check.detail + ram
    if not outcome.handed:
        rig.store.switch(found.previous())       # what serves is the previous engine: say so in the store
        found.switched = False
        step.fail(f"{NOT_HANDED_OVER}: {outcome.check.detail}{ram}")
    elif not outcome.check.passed:
        step.fail(f"the candidate did not come up healthy: {outcome.check.detail}{ram}")
    elif problems := telemetry_problems(both, None, session.spec.max_memory):
        step.fail(f"while both models ran: {'; '.join(problems)}")
