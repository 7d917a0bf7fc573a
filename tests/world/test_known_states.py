"""The controller's view of reported states: a read-only mapping over its byte per device, as a dict would answer."""

import pytest

from sim.model.lifecycle import DeviceState as S
from sim.world.controller import _UNKNOWN, KnownStates


def test_known_states_answer_like_a_dict_of_the_reports():
    known = bytearray([_UNKNOWN]) * 6
    view = KnownStates(known)
    assert len(view) == 0 and view.get(3) is None and list(view) == []
    known[4], known[1] = int(S.COMMITTED), int(S.FAILED)
    assert view.get(4) is S.COMMITTED and view[1] is S.FAILED
    assert view.get(2) is None and view.get(2, S.IDLE) is S.IDLE
    assert view.get(-1) is None and view.get(99) is None     # not a device: nothing reported, no wrap-around
    with pytest.raises(KeyError):
        view[0]
    assert len(view) == 2 and list(view) == [1, 4] and dict(view) == {1: S.FAILED, 4: S.COMMITTED}
