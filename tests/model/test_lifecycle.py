import pytest

from sim.model.errors import IllegalTransition
from sim.model.lifecycle import LEGAL_TRANSITIONS, TERMINAL, DeviceState, check_transition, is_legal

S = DeviceState


def test_the_happy_path_is_legal_step_by_step():
    path = [S.IDLE, S.DOWNLOADING, S.VERIFYING, S.INSTALLING, S.AWAITING_WINDOW, S.ACTIVATING, S.HEALTH_CHECK,
            S.COMMITTED, S.ROLLING_BACK, S.ROLLED_BACK]
    for source, target in zip(path, path[1:]):
        check_transition(source, target)


def test_skipping_a_step_is_refused():
    with pytest.raises(IllegalTransition, match="DOWNLOADING → COMMITTED"):
        check_transition(S.DOWNLOADING, S.COMMITTED)
    assert not is_legal(S.IDLE, S.INSTALLING)


def test_terminal_states_have_no_way_out():
    for state in TERMINAL:
        assert LEGAL_TRANSITIONS[state] == frozenset()


def test_every_state_is_in_the_table():
    assert set(LEGAL_TRANSITIONS) == set(DeviceState)
