"""The base of every result type: frozen, unknown keys refused, so JSON round-trips exactly."""

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema

from sim.model.lifecycle import DeviceState


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _state(value: object) -> object:
    """A state by its name (as results are written) or as the enum itself."""
    if isinstance(value, str) and value in DeviceState.__members__:
        return DeviceState[value]
    return value


# A lifecycle state in a result: the typed enum in Python, its name in JSON ("COMMITTED"), so files stay readable.
StateName = Annotated[DeviceState, BeforeValidator(_state), PlainSerializer(lambda state: state.name, return_type=str),
                      WithJsonSchema({"enum": list(DeviceState.__members__), "type": "string"})]
