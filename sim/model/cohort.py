"""A filter on devices by hardware, site kind and camera angle: every given field must match."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Cohort(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    hardware: str | None = None
    site_kind: str | None = None
    camera_angle: str | None = None

    def matches(self, hardware: str, site_kind: str, camera_angle: str) -> bool:
        return ((self.hardware is None or self.hardware == hardware)
                and (self.site_kind is None or self.site_kind == site_kind)
                and (self.camera_angle is None or self.camera_angle == camera_angle))
