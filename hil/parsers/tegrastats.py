"""tegrastats lines, JetPack 3.3 to 7 and the jetson_stats emulator: ../shared/jetson-samples/FORMATS.md.

A line is read token by token; each token (or token pair) is one of a small set of shapes, recognised by its form
(`NAME@45C` is a temperature, `NAME 4915mW/4915mW` a rail, `NAME 4%@1600` an engine) rather than by its name,
because names vary between releases and collide (`GPU 463/463` is a rail, `GPU@30.5C` a sensor).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hil.parsers.errors import ParseError

OFFLINE_SENSOR_C = -256.0                 # what tegrastats prints for a sensor that is off
PLACEHOLDER_SENSORS = {"pmic"}            # PMIC@100C / PMIC@50C are fixed values, not measurements
TOTAL_POWER_RAILS = ("VDD_IN", "POM_5V_IN")

_TIMESTAMP = re.compile(r"\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2}")
_MEMORY = re.compile(r"(\d+)/(\d+)(kB|MB|GB)")
_CORE = re.compile(r"(?:(\d+)%)?(?:@(\d+))?")
_TEMPERATURE = re.compile(r"([A-Za-z][\w-]*)@(-?\d+(?:\.\d+)?)C(?:/(-?\d+(?:\.\d+)?)C)*")
_RAIL = re.compile(r"(\d+)(?:mW)?/(\d+)(?:mW)?(?:/(\d+)(?:mW)?)?")
_ENGINE = re.compile(r"(?:(\d+)%)?(?:@(\[[\d,]*\]|\d+))?")
_NAME = re.compile(r"[A-Za-z][\w]*")
_MEGABYTES = {"kB": 1 / 1024, "MB": 1.0, "GB": 1024.0}


@dataclass(frozen=True)
class CpuCore:
    load: float | None        # percent; None when the core is off (hot-unplugged)
    frequency: int | None     # MHz


@dataclass(frozen=True)
class Engine:
    name: str
    load: float | None                      # percent, when printed
    frequencies: tuple[int, ...] = ()       # MHz; one per GPC for bracketed lists
    off: bool = False


@dataclass(frozen=True)
class Rail:
    name: str
    current_mw: float
    average_mw: float
    peak_mw: float | None = None            # JetPack 7 prints a third value


MIB = 2.0**20      # tegrastats' "MB" are mebibytes: it reads /proc/meminfo's kB and divides by 1024


@dataclass(frozen=True)
class TegraSample:
    timestamp: str | None
    ram_used_mb: float
    ram_total_mb: float
    swap_used_mb: float | None = None
    swap_total_mb: float | None = None
    cpus: tuple[CpuCore, ...] = ()
    engines: dict[str, Engine] = field(default_factory=dict)
    temperatures: dict[str, float] = field(default_factory=dict)   # by sensor; offline sensors and placeholders out
    rails: tuple[Rail, ...] = ()                                    # a list: names repeat (NC twice on AGX Orin)

    @property
    def ram_used_bytes(self) -> float:
        return self.ram_used_mb * MIB

    @property
    def ram_total_bytes(self) -> float:
        return self.ram_total_mb * MIB

    @property
    def gpu_load(self) -> float | None:
        engine = self.engines.get("GR3D_FREQ") or self.engines.get("GR3D")
        return engine.load if engine else None

    @property
    def max_temperature(self) -> float | None:
        return max(self.temperatures.values(), default=None)

    @property
    def board_power_mw(self) -> float | None:
        """VDD_IN or POM_5V_IN where the board has a total; else the sum of the rails (AGX boards); None if none."""
        for name in TOTAL_POWER_RAILS:
            for rail in self.rails:
                if rail.name == name:
                    return rail.current_mw
        return sum(rail.current_mw for rail in self.rails) if self.rails else None

    @property
    def cpu_load(self) -> float | None:
        """Mean load over the cores that are on."""
        loads = [core.load for core in self.cpus if core.load is not None]
        return sum(loads) / len(loads) if loads else None


class _Reader:
    """Walks the tokens of one line; every method consumes what it recognises."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.tokens = line.split()
        self.at = 0
        self.engines: dict[str, Engine] = {}
        self.temperatures: dict[str, float] = {}
        self.rails: list[Rail] = []
        self.cpus: tuple[CpuCore, ...] = ()
        self.memory: dict[str, float] = {}          # ram_used_mb, ram_total_mb, swap_used_mb, swap_total_mb

    def fail(self, reason: str) -> ParseError:
        return ParseError("tegrastats", self.line, reason)

    def peek(self, offset: int = 0) -> str | None:
        index = self.at + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.at]
        self.at += 1
        return token


def _memory(reader: _Reader, value: str) -> tuple[float, float]:
    match = _MEMORY.match(value)
    if not match:
        raise reader.fail(f"expected used/total memory such as 1501/3956MB, got {value!r}")
    scale = _MEGABYTES[match.group(3)]
    return int(match.group(1)) * scale, int(match.group(2)) * scale


def _skip_parenthesised(reader: _Reader, opened_in: str) -> None:
    """`(lfb 332x4MB)`, `(cached 23MB)`, `0/252kB(lfb 252kB)`: detail we do not use; skip to the closing bracket."""
    if "(" not in opened_in or ")" in opened_in:
        return
    while reader.peek() is not None:
        if ")" in reader.take():
            return
    raise reader.fail("unclosed parenthesis")


def _cpus(reader: _Reader, value: str) -> tuple[CpuCore, ...]:
    shared = None
    match = re.fullmatch(r"\[(.*)\](?:@(\d+))?", value)
    if not match:
        raise reader.fail(f"expected CPU [load%@MHz,...], got {value!r}")
    if match.group(2):                   # L4T 28: cpu [17%,13%]@408, one frequency for all cores
        shared = int(match.group(2))
    cores = []
    for entry in match.group(1).split(","):
        if entry == "off":
            cores.append(CpuCore(None, None))
            continue
        core = _CORE.fullmatch(entry)
        if not core or not entry:
            raise reader.fail(f"unreadable CPU core {entry!r}")
        load = float(core.group(1)) if core.group(1) else None
        cores.append(CpuCore(load, int(core.group(2)) if core.group(2) else shared))
    return tuple(cores)


def _named_value(reader: _Reader, name: str, value: str) -> bool:
    """NAME VALUE pairs: a power rail (cur/avg[/peak]) or an engine (load%@freq, @[f,f], freq, off)."""
    rail = _RAIL.fullmatch(value)
    if rail:
        peak = float(rail.group(3)) if rail.group(3) else None
        reader.rails.append(Rail(name, float(rail.group(1)), float(rail.group(2)), peak))
        return True
    if value == "off":
        reader.engines[name] = Engine(name, None, off=True)
        return True
    engine = _ENGINE.fullmatch(value)
    if engine and (engine.group(1) or engine.group(2)):
        load = float(engine.group(1)) if engine.group(1) else None
        listed = tuple(int(f) for f in (engine.group(2) or "").strip("[]").split(",") if f)
        reader.engines[name] = Engine(name, load, listed)
        return True
    if value.isdigit():
        reader.engines[name] = Engine(name, None, (int(value),))
        return True
    return False


def _temperature(reader: _Reader, token: str) -> bool:
    match = _TEMPERATURE.fullmatch(token)
    if not match:
        return False
    name, celsius = match.group(1), float(match.group(2))
    if celsius != OFFLINE_SENSOR_C and name.lower() not in PLACEHOLDER_SENSORS:
        reader.temperatures[name] = celsius
    return True


def _step(reader: _Reader) -> None:
    token = reader.take()
    following = reader.peek()
    if token in ("RAM", "SWAP", "IRAM") and following is not None:
        value = reader.take()
        used, total = _memory(reader, value)
        if token != "IRAM":
            reader.memory[f"{token.lower()}_used_mb"], reader.memory[f"{token.lower()}_total_mb"] = used, total
        _skip_parenthesised(reader, value)
        after = reader.peek()
        if after and after.startswith("("):
            _skip_parenthesised(reader, reader.take())
    elif token in ("CPU", "cpu") and following is not None and following.startswith("["):
        reader.cpus = _cpus(reader, reader.take())
    elif token == "MTS" and following == "fg":          # MTS fg 0% bg 0% (TX2): scheduler detail, not used
        reader.at += 4
    elif _temperature(reader, token):
        pass
    elif _NAME.fullmatch(token) and following is not None and _named_value(reader, token, following):
        reader.at += 1
    else:
        raise reader.fail(f"unexpected {token!r}")


def parse_tegrastats_line(line: str) -> TegraSample:
    """One tegrastats line -> TegraSample. Raises ParseError naming the line when it is not one."""
    reader = _Reader(line.strip())
    timestamp = None
    if _TIMESTAMP.match(line.strip()):
        timestamp = " ".join(reader.tokens[:2])
        reader.at = 2
    while reader.peek() is not None:
        _step(reader)
    memory = reader.memory
    if "ram_used_mb" not in memory:
        raise reader.fail("no RAM field, so not a tegrastats line")
    return TegraSample(timestamp=timestamp, ram_used_mb=memory["ram_used_mb"], ram_total_mb=memory["ram_total_mb"],
                       swap_used_mb=memory.get("swap_used_mb"), swap_total_mb=memory.get("swap_total_mb"),
                       cpus=reader.cpus, engines=reader.engines, temperatures=reader.temperatures,
                       rails=tuple(reader.rails))


def parse_tegrastats(text: str) -> list[TegraSample]:
    """Every non-empty line of a tegrastats log."""
    return [parse_tegrastats_line(line) for line in text.splitlines() if line.strip()]
