"""Durations, sizes, rates and money as strings with units, parsed once into SI floats.

Internally every duration is seconds, every size is bytes, every rate is bytes per second.
Decimal prefixes (kB, MB, GB) are powers of 1000 and binary ones (KiB, MiB, GiB) powers of 1024,
as network and storage vendors use them; bit rates (`8Mbit/s`, `8Mbps`) are divided by 8. The b of a unit is read
as people write it: `B` a byte, `b` a bit (`20Mb/s` is 20 megabits, `20MBps` 20 megabytes a second); prefixes
ignore case. A size in bits (`4Gb`) is refused with the byte form to write: an 8× error on a model or a disk is
never what was meant.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

from sim.model.errors import FleetlabError

_DURATION_UNITS = {
    "ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0,
    "h": 3600.0, "d": 86400.0, "w": 604800.0,
    # the words, as people write them in a bound ('< 3 days')
    "secs": 1.0, "second": 1.0, "seconds": 1.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0, "hour": 3600.0,
    "hours": 3600.0, "day": 86400.0, "days": 86400.0, "week": 604800.0, "weeks": 604800.0,
}
_SIZE_UNITS = {
    "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
_BIT_RATE_UNITS = {"bit/s": 1, "kbit/s": 1e3, "mbit/s": 1e6, "gbit/s": 1e9}     # Mbps and Mb/s: parse_rate

_NUMBER = r"([0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)"
_DURATION_PART = re.compile(_NUMBER + r"\s*([a-z]+)")


class UnitError(FleetlabError, ValueError):
    """A value that should carry a unit could not be read; the message says what was expected."""


def _finite(value: float, text: object) -> float:
    if not math.isfinite(value):
        raise UnitError(f"expected a finite number, got {text!r}")
    return value


def parse_duration(text: object) -> float:
    """`'90s'`, `'12h'`, `'1d12h'`, `'1h 30m'` -> seconds. A bare `0` is allowed (zero needs no unit)."""
    if text == 0 or text == "0":
        return 0.0
    if not isinstance(text, str):
        raise UnitError(f"expected a duration with a unit such as '12h' or '90s', got {text!r}")
    if re.search(r"[0-9.]\s*M(?![A-Za-z])", text):   # ISO 8601 and date libraries read M as months
        raise UnitError(f"{text!r}: M could mean a month or a minute: write m for minutes, or days (30d) for a month")
    compact = text.strip().lower()
    parts = _DURATION_PART.findall(compact)
    if not parts or _DURATION_PART.sub("", compact).strip():
        raise UnitError(f"expected a duration such as '12h', '90s' or '1d12h', got {text!r}")
    total = 0.0
    for number, unit in parts:
        if unit not in _DURATION_UNITS:
            raise UnitError(f"unknown duration unit {unit!r} in {text!r} (use one of ms, s, m, h, d, w)")
        total += float(number) * _DURATION_UNITS[unit]
    return _finite(total, text)


def _split(text: object, what: str, example: str) -> tuple[float, str]:
    """(number, unit as written: its case tells a bit from a byte)."""
    if not isinstance(text, str):
        raise UnitError(f"expected a {what} with a unit such as {example!r}, got {text!r}")
    match = re.fullmatch(_NUMBER + r"\s*([A-Za-z/$]+)", text.strip())
    if not match:
        raise UnitError(f"expected a {what} such as {example!r}, got {text!r}")
    return float(match.group(1)), match.group(2)


def _byte_form(unit: str) -> str:
    """'gb' -> 'GB', 'kib' -> 'KiB', 'mb' -> 'MB': the unit in bytes, as written in the docs."""
    prefix = unit[:-1].lower()
    return {"": "", "k": "k", "ki": "Ki"}.get(prefix, prefix[:1].upper() + prefix[1:]) + "B"


def parse_size(text: object) -> float:
    """`'500MB'`, `'1.5GiB'`, `'4096B'` -> bytes."""
    if text == 0 or text == "0":
        return 0.0
    number, unit = _split(text, "size", "500MB")
    if unit.lower() not in _SIZE_UNITS:
        raise UnitError(f"unknown size unit in {text!r} (use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB)")
    if unit.endswith("b"):
        written = str(text).strip()[:-len(unit)].strip()
        raise UnitError(f"{text!r}: a lowercase b is a bit, and sizes are in bytes: write {written}{_byte_form(unit)}")
    return _finite(number * _SIZE_UNITS[unit.lower()], text)


def parse_rate(text: object) -> float:
    """`'8Mbit/s'`, `'8Mbps'`, `'50MB/s'` -> bytes per second."""
    if text == 0 or text == "0":
        return 0.0
    number, unit = _split(text, "rate", "8Mbit/s")
    if unit.lower() in _BIT_RATE_UNITS:
        return _finite(number * _BIT_RATE_UNITS[unit.lower()] / 8.0, text)
    per_second = unit[:-2] if unit.lower().endswith(("/s", "ps")) else ""
    if per_second.lower() in _SIZE_UNITS:
        if per_second.endswith("B"):                    # MB/s, MBps: bytes
            return _finite(number * _SIZE_UNITS[per_second.lower()], text)
        return _finite(number * _SIZE_UNITS[per_second.lower()] / 8.0, text)    # Mb/s, Mbps: bits
    raise UnitError(f"unknown rate unit in {text!r} (use bit/s, kbit/s, Mbit/s, Gbit/s, Mbps or MB/s)")


def parse_fraction(text: object) -> float:
    """`'5%'` -> 0.05; a plain number between 0 and 1 is taken as it is."""
    if isinstance(text, bool):
        raise UnitError(f"expected a fraction such as '5%' or 0.05, got {text!r}")
    if isinstance(text, (int, float)):
        value = float(text)
    elif isinstance(text, str) and re.fullmatch(_NUMBER + r"\s*%", text.strip()):
        value = float(text.strip()[:-1]) / 100.0
    elif isinstance(text, str) and re.fullmatch(_NUMBER, text.strip()):      # "0.95" in a bound ('> 0.95')
        value = float(text)
    else:
        raise UnitError(f"expected a fraction such as '5%' or 0.05, got {text!r}")
    if not 0.0 <= value <= 1.0:
        meant = f": {value:g}%?" if 1.0 < value <= 100.0 and not str(text).strip().endswith("%") else ""
        raise UnitError(f"a fraction must lie between 0 and 1 (0% and 100%), got {text!r}{meant}")
    return value


def parse_money(text: object) -> float:
    """`'$0.09'` or `0.09` -> dollars."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return _finite(float(text), text)
    if isinstance(text, str) and re.fullmatch(r"\$?\s*" + _NUMBER, text.strip()):
        return _finite(float(text.strip().lstrip("$").strip()), text)
    raise UnitError(f"expected an amount of money such as '$0.09', got {text!r}")


def parse_clock(text: object) -> float:
    """`'02:30'` (local time of day) -> seconds after midnight."""
    if not isinstance(text, str) or not re.fullmatch(r"\d{1,2}:\d{2}", text.strip()):
        raise UnitError(f"expected a time of day such as '02:30', got {text!r}")
    hours, minutes = (int(part) for part in text.strip().split(":"))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise UnitError(f"not a time of day: {text!r}")
    return hours * 3600.0 + minutes * 60.0


def format_clock(seconds: float) -> str:
    """Seconds after midnight -> `'02:30'`, as parse_clock reads it (a time past midnight wraps)."""
    return f"{int(seconds // 3600) % 24:02d}:{int(seconds % 3600 // 60):02d}"


def counted(count: int, noun: str) -> str:
    """'1 seed', '3 seeds': a count with its noun (regular plurals only)."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def exact_duration(seconds: float) -> str:
    """Seconds as a scenario file would write them, exactly: 172800 -> '2d', 178200 -> '2d 1h 30m', 61.5 ->
    '1m 1.5s' (parse_duration reads each back to the same seconds)."""
    parts, left = [], seconds
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        whole = int(left // size)
        if whole:
            parts.append(f"{whole}{unit}")
            left -= whole * size
    if left or not parts:
        parts.append(f"{left:g}s")
    return " ".join(parts)


def exact_size(num_bytes: float) -> str:
    """Bytes as a scenario file would write them, exactly, in the largest unit that holds a whole number, decimal
    first: 500e6 -> '500MB', 1e12 -> '1TB', 2**30 -> '1GiB', 1536 -> '1536B' (parse_size reads each back to the
    same bytes)."""
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3),
                        ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if num_bytes and num_bytes % scale == 0:
            return f"{num_bytes / scale:.0f}{unit}"
    return f"{num_bytes:g}B" if num_bytes != int(num_bytes) else f"{int(num_bytes)}B"


def exact_share(share: float) -> str | float:
    """A share as a file would write it, `'5%'`, where that reads back exactly; else the number itself (also
    valid in a file)."""
    text = f"{share * 100:.12g}%"
    return text if parse_fraction(text) == share else share


def exact_money(dollars: float) -> str | float:
    """Dollars as a file would write them, `'$0.09'`, where that reads back exactly; else the number itself."""
    text = f"${dollars:.12g}"
    return text if parse_money(text) == dollars else dollars


def exact_rate(bytes_per_second: float) -> str:
    """Bytes per second as a scenario file would write them, exactly, in bits: 50e6 -> '400Mbit/s', 4000 ->
    '32kbit/s' (parse_rate reads each back to the same bytes per second)."""
    bits = bytes_per_second * 8
    for unit, scale in (("Gbit/s", 10**9), ("Mbit/s", 10**6), ("kbit/s", 10**3)):
        if bits and bits % scale == 0:
            return f"{bits / scale:.0f}{unit}"
    return f"{bits:g}bit/s" if bits != int(bits) else f"{int(bits)}bit/s"


def format_duration(seconds: float | None) -> str:
    """Seconds -> a short human string (`'3d 4h'`, `'12m 5s'`), for tables and reports."""
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 1 else f"{seconds * 1000:.0f}ms"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s"


def format_size(num_bytes: float) -> str:
    """Bytes -> `'5.00 TB'` style string (decimal units, as egress is billed)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(num_bytes) >= scale:
            return f"{num_bytes / scale:.2f} {unit}"
    return f"{num_bytes:.0f} B"


def format_rate(bytes_per_second: float) -> str:
    """Bytes per second -> `'8.00 Mbit/s'` style string."""
    bits = bytes_per_second * 8
    for unit, scale in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if abs(bits) >= scale:
            return f"{bits / scale:.2f} {unit}"
    return f"{bits:.0f} bit/s"


def utc_moment(value: object) -> datetime:
    """An RFC 3339 time with its offset (`2026-03-01T12:00:00Z`, `…+01:00`), written as text or left unquoted in YAML
    (which loads it as a datetime), as an aware datetime in UTC. Without an offset the time zone cannot be told, and a
    time read as UTC that was meant as local would be hours off: refused, as a bare date is."""
    shown = value.isoformat() if isinstance(value, datetime) else repr(value[:40] if isinstance(value, str) else value)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise UnitError(f"{shown} is not a time: write it as RFC 3339, such as 2026-03-01T12:00:00Z") from None
    else:
        raise UnitError(f"expected a time such as 2026-03-01T12:00:00Z, got {shown}")
    if moment.tzinfo is None:
        raise UnitError(f"{shown} has no UTC offset: which time zone it is in cannot be told (add Z or +01:00)")
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:       # the first or last day of the calendar, moved across midnight by its offset
        raise UnitError(f"{shown} is not a time fleetlab can place") from None


def parse_utc_offset(key: str) -> float:
    """'UTC-05:00', 'UTC+1', 'UTC+05:45' or 'UTC' -> seconds east of UTC. Offsets in use run from UTC-12:00 to
    UTC+14:00: 'UTC+99' or 'UTC+05:99' is a typo, and would shift every install window and game by days."""
    if key == "UTC":
        return 0.0
    match = re.fullmatch(r"UTC([+-])(\d{1,2})(?::(\d{2}))?", key)
    if not match:
        raise ValueError(f"timezone keys look like 'UTC-05:00' or 'UTC+1', got {key!r}")
    sign = 1 if match.group(1) == "+" else -1
    hours, minutes = int(match.group(2)), int(match.group(3) or 0)
    offset = sign * (hours * 3600 + minutes * 60)
    if minutes >= 60 or not -12 * 3600 <= offset <= 14 * 3600:
        raise ValueError(f"{key!r} is not a UTC offset: offsets run from UTC-12:00 to UTC+14:00, minutes below 60")
    return offset
