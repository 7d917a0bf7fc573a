"""junit.xml: one test case per expectation per scenario (and per rig for HIL steps), as CI systems read it; the
scenario files left out in this mode are skipped cases with why.

Every text and attribute passes through safe_text.xml_text at the end (`_well_formed`), so whatever a rig printed
(control characters, escape sequences, a 100 kB line) the file stays well-formed XML 1.0 of bounded size."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from fleetlab.safe_text import xml_text
from fleetlab.suite_results import SuiteResult


def _well_formed(root: ET.Element) -> None:
    for element in root.iter():
        if element.text:
            element.text = xml_text(element.text)
        for key, value in element.attrib.items():
            element.set(key, xml_text(value))


def _case(suite: ET.Element, classname: str, name: str, seconds: float = 0.0) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=classname, name=name, time=f"{seconds:.3f}")


def render(result: SuiteResult) -> str:
    root = ET.Element("testsuites", name="fleetlab", time=f"{result.wall_seconds:.3f}")
    totals = {"tests": 0, "failures": 0, "errors": 0}     # the schema has no skipped count on <testsuites>
    for outcome in result.scenarios:
        suite = ET.SubElement(root, "testsuite", name=outcome.name, timestamp=result.started[:19])
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for check in outcome.checks:
            case = _case(suite, f"{outcome.name}.{check.mode}", f"{check.metric} {check.bound}")
            counts["tests"] += 1
            if not check.passed:
                counts["failures"] += 1
                why = check.reason + (f"; cause: {check.cause}" if check.cause else "")
                failure = ET.SubElement(case, "failure", message=why, type="ExpectationFailed")
                failure.text = why
        for rig in outcome.hil.rigs if outcome.hil else []:
            case = _case(suite, f"{outcome.name}.hil.{rig.rig}", f"validation on {rig.rig}",
                         sum(step.seconds for step in rig.steps))
            counts["tests"] += 1
            if rig.verdict == "failed":
                counts["failures"] += 1
                ET.SubElement(case, "failure", message=rig.reason, type="RigValidationFailed").text = rig.reason
            elif rig.verdict == "error":
                counts["errors"] += 1
                ET.SubElement(case, "error", message=rig.reason, type="HarnessError").text = rig.reason
            elif rig.verdict in ("skipped", "interrupted"):
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=rig.reason)
            ET.SubElement(case, "system-out").text = "\n".join(
                f"{step.name}: {step.outcome} ({step.seconds:.2f} s) {step.detail}" for step in rig.steps)
        for problem in outcome.problems:
            case = _case(suite, f"{outcome.name}.harness", "could not measure")
            counts["tests"] += 1
            counts["errors"] += 1
            ET.SubElement(case, "error", message=problem, type="CannotMeasure").text = problem
        for key, value in counts.items():
            suite.set(key, str(value))
        for key in totals:
            totals[key] += counts[key]
    if result.left_out:     # skipped cases, so a CI dashboard shows what this mode did not run and why
        suite = ET.SubElement(root, "testsuite", name=f"left out in {result.mode} mode",
                              timestamp=result.started[:19], tests=str(len(result.left_out)), failures="0",
                              errors="0", skipped=str(len(result.left_out)))
        for left in result.left_out:
            ET.SubElement(_case(suite, "fleetlab.left_out", left.file), "skipped", message=left.why)
        totals["tests"] += len(result.left_out)
    for key, value in totals.items():
        root.set(key, str(value))
    _well_formed(root)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
