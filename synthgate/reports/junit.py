"""junit.xml: one testsuite per stage, one testcase per check; flaky passes carry a <flakyFailure>."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from synthgate.redact import redactor
from synthgate.results import Verdict


def render(verdict: Verdict) -> str:
    """The JUnit XML document (the dialect GitLab, Jenkins and GitHub test reporters read)."""
    root = ET.Element("testsuites", name=f"synthgate {verdict.target}")
    total = failures = errors = skipped = 0
    for stage in verdict.stages:
        suite = ET.SubElement(root, "testsuite", name=stage.name, time=f"{stage.duration_s:.3f}")
        if verdict.release_wait is not None:  # how long the gate waited for the new release to be live
            props = ET.SubElement(suite, "properties")
            ET.SubElement(props, "property", name="release_wait_s", value=f"{verdict.release_wait.waited_s:.3f}")
            ET.SubElement(props, "property", name="release_live", value=str(verdict.release_wait.live).lower())
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        if stage.status == "skipped" and not stage.checks:
            case = ET.SubElement(suite, "testcase", classname=f"synthgate.{stage.name}", name=stage.name)
            ET.SubElement(case, "skipped", message=stage.message)
            counts["tests"] += 1
            counts["skipped"] += 1
        for check in stage.checks:
            counts["tests"] += 1
            case = ET.SubElement(suite, "testcase", classname=f"synthgate.{stage.name}", name=check.id,
                                 time=f"{check.duration_ms / 1000:.3f}")
            if check.status == "failed":
                # a tool error (synthgate's or the test code's) is JUnit's <error>, a failed check its <failure>
                tag = "error" if check.is_tool_error else "failure"
                counts["errors" if check.is_tool_error else "failures"] += 1
                node = ET.SubElement(case, tag, message=redactor(check.message)[:500],
                                     type=check.kind or "assertion")
                node.text = redactor("\n".join(filter(None, [check.message, f"attempts: {check.attempts}",
                                                              check.curl])))
            elif check.status == "skipped":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=redactor(check.message))
            elif check.status == "accepted":  # neither pass nor fail: skipped, saying why and until when
                counts["skipped"] += 1
                note = check.acceptance
                ET.SubElement(case, "skipped", message=redactor(
                    f"accepted until {note and note.until} ({note and note.reason}): {check.message}")[:1000])
            elif check.is_flaky:
                # Surefire's rerun dialect: a pass that needed retries, shown apart from clean passes
                flaky = ET.SubElement(case, "flakyFailure", message=f"passed on attempt {check.attempts}")
                flaky.text = "flaky: failed at first, passed after a retry"
                ET.SubElement(case, "properties").append(ET.Element("property", name="flaky", value="true"))
            for item in check.evidence:
                out = ET.SubElement(case, "system-out")
                out.text = f"[[ATTACHMENT|{item}]]"
        for key, value in counts.items():
            suite.set(key, str(value))
        total += counts["tests"]
        failures += counts["failures"]
        errors += counts["errors"]
        skipped += counts["skipped"]
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    root.set("skipped", str(skipped))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def write(verdict: Verdict, reports_dir: Path) -> Path:
    """Write junit.xml."""
    path = reports_dir / "junit.xml"
    path.write_text(render(verdict) + "\n", encoding="utf-8")
    return path
