import re
from datetime import date, datetime, timedelta, timezone

import pytest

from sim.model import units


@pytest.mark.parametrize("text, seconds", [
    ("90s", 90), ("12h", 43200), ("1d12h", 129600), ("1h 30m", 5400), ("250ms", 0.25), ("2w", 1209600), (0, 0),
])
def test_durations_read_as_seconds(text, seconds):
    assert units.parse_duration(text) == pytest.approx(seconds)


def test_an_upper_case_m_duration_is_refused_as_a_month_or_a_minute():
    """'duration: 1M' (a month, as ISO 8601 and date libraries write it) simulated one minute."""
    for text in ("1M", "2d 3M", "1.5M"):
        with pytest.raises(units.UnitError, match="M could mean a month or a minute"):
            units.parse_duration(text)
    assert units.parse_duration("1m") == 60 and units.parse_duration("30Min") == 1800
    assert units.parse_duration("5MS") == pytest.approx(0.005)


@pytest.mark.parametrize("text, size", [("500MB", 500e6), ("1.5GiB", 1.5 * 2**30), ("4096B", 4096), ("2kB", 2000)])
def test_sizes_read_as_bytes(text, size):
    assert units.parse_size(text) == pytest.approx(size)


@pytest.mark.parametrize("text, rate", [("8Mbit/s", 1e6), ("8Mbps", 1e6), ("256kbit/s", 32e3), ("50MB/s", 50e6)])
def test_rates_read_as_bytes_per_second(text, rate):
    assert units.parse_rate(text) == pytest.approx(rate)


@pytest.mark.parametrize("bad, parse", [
    ("12 parsecs", units.parse_duration), (12, units.parse_duration), ("12", units.parse_duration),
    ("500", units.parse_size), ("8Mbit", units.parse_rate), ("150%", units.parse_fraction),
    ("25:00", units.parse_clock),
])
def test_values_without_a_known_unit_are_refused_with_the_value_in_the_message(bad, parse):
    with pytest.raises(units.UnitError, match=repr(bad).strip("'")):
        parse(bad)


@pytest.mark.parametrize("text, rate", [
    ("20Mb/s", 2.5e6), ("20 mb/s", 2.5e6), ("20Mbps", 2.5e6),        # a lowercase b: bits (20Mb/s was 20 MB/s)
    ("20MBps", 20e6), ("20MB/s", 20e6), ("2KiB/s", 2048),             # a B: bytes (20MBps was 20 Mbit/s)
    ("20MBit/s", 2.5e6), ("8b/s", 1.0),
])
def test_a_b_is_a_bit_and_a_capital_b_a_byte_in_rates(text, rate):
    """Once the unit was lower-cased first: '20Mb/s', as networking docs write 20 megabits a second, read as 20
    megabytes (8× the uplink), and '20MBps' read as 20 megabits."""
    assert units.parse_rate(text) == pytest.approx(rate)


@pytest.mark.parametrize("text, written", [("4Gb", "4GB"), ("500 mb", "500MB"), ("2kb", "2kB"), ("1.5gib", "1.5GiB"),
                                           ("4096b", "4096B")])
def test_a_size_in_bits_is_refused_with_the_byte_form_to_write(text, written):
    with pytest.raises(units.UnitError, match=f"lowercase b is a bit.*write {re.escape(written)}$"):
        units.parse_size(text)


def test_fractions_take_percent_or_plain_numbers():
    assert units.parse_fraction("5%") == pytest.approx(0.05)
    assert units.parse_fraction(0.3) == 0.3
    assert units.parse_fraction("0.95") == 0.95            # as a bound writes it: coverage: "> 0.95" was refused
    with pytest.raises(units.UnitError, match=r"got '95': 95%\?"):
        units.parse_fraction("95")


def test_durations_take_the_words_people_write_in_bounds():
    assert units.parse_duration("3 days") == 3 * 86400 and units.parse_duration("1 day 12 hours") == 129600
    assert units.parse_duration("90 seconds") == 90 and units.parse_duration("5 mins") == 300
    assert units.parse_duration("2 weeks") == 14 * 86400 and units.parse_duration("1 minute") == 60


def test_the_worked_numbers_of_rollout_facts_hold():
    # 500 MB takes 33 min at 2 Mbit/s and 4.3 h at 256 kbit/s (ROLLOUT-FACTS.md)
    assert units.parse_size("500MB") / units.parse_rate("2Mbit/s") / 60 == pytest.approx(33.3, abs=0.1)
    assert units.parse_size("500MB") / units.parse_rate("256kbit/s") / 3600 == pytest.approx(4.34, abs=0.01)


def test_formatting_is_short_and_human():
    assert units.format_duration(3 * 86400 + 4 * 3600) == "3d 4h"
    assert units.format_duration(None) == "—"
    assert units.format_size(5e12) == "5.00 TB"
    assert units.format_rate(1e6) == "8.00 Mbit/s"


def test_a_count_of_one_is_singular_and_large_counts_are_grouped():
    """Once 'over 1 seeds' and 'last 1 runs' in the tables a release manager reads."""
    assert units.counted(1, "seed") == "1 seed" and units.counted(0, "run") == "0 runs"
    assert units.counted(20, "oracle run") == "20 oracle runs" and units.counted(12000, "point") == "12,000 points"


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (172800, "2d"), (5400, "1h 30m"), (7200, "2h"),
                                           (61.5, "1m 1.5s"), (90061, "1d 1h 1m 1s")])
def test_an_exact_duration_reads_back_as_the_same_seconds(seconds, text):
    """`fleetlab import --from mender` wrote a phase two days in as `start: 172800s`."""
    assert units.exact_duration(seconds) == text and units.parse_duration(text) == seconds


@pytest.mark.parametrize("num_bytes, text", [(0, "0B"), (1536, "1536B"), (500e6, "500MB"), (1.5e9, "1500MB"),
                                             (1e12, "1TB"), (2**30, "1GiB"), (3 * 2**20, "3MiB"), (4e3, "4kB")])
def test_an_exact_size_reads_back_as_the_same_bytes(num_bytes, text):
    """The schema's defaults are written so (`max: 1TB`, where it offered 1000000000000.0, which a file may not
    write)."""
    assert units.exact_size(num_bytes) == text and units.parse_size(text) == num_bytes


@pytest.mark.parametrize("bytes_per_second, text", [(0, "0bit/s"), (4000, "32kbit/s"), (50e6, "400Mbit/s"),
                                                    (125e6, "1Gbit/s"), (0.1, "0.8bit/s"), (1, "8bit/s")])
def test_an_exact_rate_reads_back_as_the_same_bytes_per_second(bytes_per_second, text):
    assert units.exact_rate(bytes_per_second) == text and units.parse_rate(text) == bytes_per_second


@pytest.mark.parametrize("written", ["2026-12-03T21:00:00+01:00", "2026-12-03T20:00:00Z", "2026-12-03 20:00:00+00:00",
                                     datetime(2026, 12, 3, 15, tzinfo=timezone(timedelta(hours=-5)))])
def test_a_time_with_its_offset_is_the_same_moment_in_utc(written):
    moment = units.utc_moment(written)
    assert moment == datetime(2026, 12, 3, 20, tzinfo=timezone.utc) and moment.utcoffset() == timedelta(0)


@pytest.mark.parametrize("written, says", [
    ("2026-12-03T20:00:00", "'2026-12-03T20:00:00' has no UTC offset: which time zone"),
    (datetime(2026, 12, 3, 20), "2026-12-03T20:00:00 has no UTC offset"),       # YAML's unquoted time without one
    ("2026-12-03", "has no UTC offset"),
    (date(2026, 12, 3), "expected a time such as 2026-03-01T12:00:00Z, got datetime.date(2026, 12, 3)"),
    ("yesterday", "'yesterday' is not a time: write it as RFC 3339"),
    (1764792000, "expected a time such as"),
    ("0001-01-01T00:00:00+01:00", "is not a time fleetlab can place"),            # once an OverflowError
])
def test_a_time_that_cannot_be_placed_is_refused_with_what_to_write(written, says):
    with pytest.raises(units.UnitError, match=re.escape(says)):
        units.utc_moment(written)
