"""The base of every result type: frozen, unknown keys refused, so JSON round-trips exactly."""

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
