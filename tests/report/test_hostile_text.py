"""One hostile string in every text the reports and the terminal show: each output stays valid, escaped, bounded."""

import io
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from fleetlab import console
from fleetlab.hil_view import hil_table, plan_table
from fleetlab.report import html, junit, markdown
from fleetlab.report.trends import Trends
from fleetlab.suite_results import SuiteResult
from sim.model.hil_results import RigResult, StepResult
from sim.model.lifecycle import DeviceState as S
from sim.model.results import ByteCounts, Coverage, Egress, Provenance, RunResult, Series, TimelineEvent
from tests.conftest import scenario_from

LONG = "A" * 100_000
HOSTILE = ("<script>alert(1)</script>\"><img src=x onerror=alert(2)>[click](javascript:alert(3)) **bold** "
           "\x1b]0;pwned\x07\x1b[2J\x01\x00\ud800 " + LONG)
STRUCTURAL = {"verdict", "mode", "kind", "outcome", "state", "source", "metric", "started", "strategy"}


def hostile_everywhere(node, key=""):
    if isinstance(node, dict):
        return {k: hostile_everywhere(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [hostile_everywhere(item, key) for item in node]
    if isinstance(node, str) and key not in STRUCTURAL:
        return HOSTILE
    return node


def hostile_rig_run() -> RunResult:
    step = StepResult(name="activate", started=0.0, seconds=1.0, outcome="failed", detail=HOSTILE)
    rig = RigResult(rig=HOSTILE, hardware=HOSTILE, angle=HOSTILE, wave=0, release=HOSTILE, state=S.ROLLED_BACK,
                    verdict="failed", reason=HOSTILE, steps=[step])
    return RunResult(source="hil", strategy="canary", devices=1, sites=0, simulated=0.0,
                     coverage=Coverage(series=Series(step=1.0, values=[])), outcomes={S.ROLLED_BACK: 1},
                     reasons={HOSTILE: 1}, stragglers=[], bytes=ByteCounts(), egress=Egress(series=Series(
                         step=1.0, values=[])), final_versions={HOSTILE: 1}, halted=True, halt_reason=HOSTILE,
                     timeline=[TimelineEvent(time=0.0, kind="halt", detail=HOSTILE)], state_counts={},
                     provenance=Provenance(scenario_name=HOSTILE, scenario_hash="x", seed=1, fleetlab_version="x",
                                           git_sha=HOSTILE, packages={}), rigs=[rig])


def hostile_result(suite_result) -> SuiteResult:
    data = hostile_everywhere(suite_result.model_dump(mode="json"))
    result = SuiteResult.model_validate(data)
    first = result.scenarios[0].model_copy(update={"hil": hostile_rig_run()})
    return result.model_copy(update={"scenarios": [first, *result.scenarios[1:]]})


class _Strict(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += attrs


def test_the_html_page_escapes_and_bounds_every_text(suite_result):
    page = html.render(hostile_result(suite_result), Trends(regressions=[HOSTILE], problem=HOSTILE))
    parsed = _Strict()
    parsed.feed(page)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert not any(name.startswith("on") for name, _ in parsed.attributes)
    assert "&lt;script&gt;" in page and "\x1b" not in page and "\x00" not in page and "\\x1b" in page
    assert len(page) < 20 * 2**20 and LONG not in page      # every text cut to a bounded length


def test_junit_xml_stays_well_formed(suite_result):
    text = junit.render(hostile_result(suite_result))
    ET.fromstring(text.encode())
    assert "\x1b" not in text and "\x00" not in text and LONG not in text and len(text) < 20 * 2**20


def test_summary_md_neutralises_links_markup_and_controls(suite_result):
    text = markdown.render(hostile_result(suite_result), Trends(regressions=[HOSTILE]))
    assert "<script" not in text and "<img" not in text and "](javascript:" not in text
    assert "\\[click\\]\\(javascript:alert\\(3\\)\\)" in text and "\\*\\*bold\\*\\*" in text
    assert "\x1b" not in text and len(text.encode()) < 2**20


def test_the_terminal_sees_control_sequences_but_never_obeys_them(suite_result):
    buffer = io.StringIO()
    screen = console.SafeConsole(file=buffer, force_terminal=True, width=200)
    run = hostile_rig_run()
    scenario = scenario_from({"hil": {"rig_tags": []}})
    screen.print(plan_table(run))
    screen.print(hil_table(run, scenario.hil))
    screen.print(HOSTILE[:200], markup=False)
    shown = buffer.getvalue()
    assert "\\x1b" in shown
    assert not re.search(r"\x1b(?!\[[0-9;]*m)", shown)      # the only escape sequences left are our colours
