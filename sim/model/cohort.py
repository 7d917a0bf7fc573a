"""A filter on devices by hardware, site kind and camera angle: every given field must match."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Cohort(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    hardware: str | None = Field(default=None, description="a hardware model of fleet.hardware")
    site_kind: str | None = Field(default=None, description="a site kind of fleet.site_kinds")
    camera_angle: str | None = Field(default=None, description="a camera angle of fleet.camera_angles")

    def matches(self, hardware: str, site_kind: str, camera_angle: str) -> bool:
        return ((self.hardware is None or self.hardware == hardware)
                and (self.site_kind is None or self.site_kind == site_kind)
                and (self.camera_angle is None or self.camera_angle == camera_angle))
