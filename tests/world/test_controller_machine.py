"""A hypothesis state machine drives the controller with arbitrary actions and checks what it must never do."""

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sim.model.lifecycle import RUNS_CANDIDATE, DeviceState
from sim.model.strategy import Halt, Rollback, Update
from sim.world.controller import Controller
from sim.world.device import Lifecycle
from sim.world.world import World
from tests.conftest import scenario_from

SIZE = 16
devices = st.lists(st.integers(0, SIZE - 1), min_size=1, max_size=6).map(tuple)


class ControllerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        scenario = scenario_from({"fleet": {"site_kinds": {"gym": {"count": 4, "cameras_per_site": 4,
                                                                   "outages": {"mtbf": "2h", "mttr": "30m"}}},
                                            "power_loss_per_day": 5},
                                  "duration": "20d"})
        self.world = World(scenario, 1, on_transition=self._moved)
        self.lifecycle = Lifecycle(self.world)
        self.controller = Controller(self.world, self.lifecycle, scenario.strategy, lambda: None)
        self.allowed: set[int] = set()
        self.halted_at: float | None = None
        self.downloads_after_halt = 0
        self.rolled_back: set[int] = set()

    def _moved(self, time, device, source, target, reason):
        if self.halted_at is not None and source == DeviceState.IDLE and target == DeviceState.DOWNLOADING:
            self.downloads_after_halt += 1

    @rule(chosen=devices)
    def update(self, chosen):
        if self.halted_at is None:
            self.allowed.update(chosen)
        self.controller._perform(Update(chosen))

    @rule(hours=st.integers(0, 30))
    def soak(self, hours):
        self.world.env.run(until=self.world.now + hours * 3600 + 1)

    @rule()
    def halt(self):
        if self.halted_at is None:
            self.halted_at = self.world.now
        self.controller._perform(Halt("test"))

    @rule()
    def roll_back_everything(self):
        self.rolled_back |= set(self.allowed)
        self.controller._perform(Rollback(None, "test"))

    @invariant()
    def never_releases_more_than_the_plan_allowed(self):
        released = {device for device in range(SIZE) if self.controller.released[device]}
        assert released <= self.allowed

    @invariant()
    def a_halted_rollout_starts_no_new_download(self):
        assert self.downloads_after_halt == 0

    def teardown(self):
        self.world.env.run(until=self.world.now + 10 * 86400)   # let every rollback finish
        for device in self.rolled_back:
            assert self.world.state(device) not in RUNS_CANDIDATE


TestControllerMachine = ControllerMachine.TestCase
TestControllerMachine.settings = settings(max_examples=40, stateful_step_count=20, deadline=None)
