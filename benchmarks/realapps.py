"""Every stage of each bundled profile against the real app it is named after, one stage at a time.

The apps run on loopback under Cloudflare's local runtime (`../shared/tools/realapps-up.sh`): SixDegrees :8701,
ColdCopy :8702, ManuScript Hub :8703. Each stage runs alone (`--stages S`), so fail-fast hides nothing, and every
failed check is sorted into: a defect of the app (with the code that causes it), contract drift (the app departs
from its runbook's contract), not verified here (no data), or a false alarm (the gate is wrong: goal none).
Writes benchmarks/RESULTS-realapps.md. Not part of `make test`: fetching the apps needs the network.

    python benchmarks/realapps.py [--only APP] [--restart SIX_GITDIR CC_GITDIR MS_GITDIR]

`--restart` stops the apps, clears ManuScript's local KV (where its per-IP rate-limit counters live, so the last
run's requests do not leave this one rate limited) and brings the three apps up again with realapps-up.sh.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostinfo import describe, load_average  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SYNTHGATE = ROOT / ".venv" / "bin" / "synthgate"
UP = ROOT.parent / "shared" / "tools" / "realapps-up.sh"
WORKDIR = Path("/tmp/realapps")
OUT = ROOT / "benchmarks" / "RESULTS-realapps.md"
STAGES = ("smoke", "e2e", "fuzz", "load")


@dataclass
class App:
    """One real app: its bundled profile, where it listens, its source (for code references)."""

    name: str
    port: int
    repo: str
    tree: str  # folder under WORKDIR holding the exported source
    fuzz_writes: bool  # fuzz POST endpoints on this local copy (its D1 is a throwaway)
    why_no_writes: str = ""


APPS = [
    App("sixdegrees", 8701, "JianouJiang/proxima-auto-company (projects/sixdegrees, HEAD)", "sixdegrees", True),
    App("coldcopy", 8702, "JianouJiang/coldcopy (main)", "coldcopy", False,
        "every valid generation calls api.anthropic.com (hard-coded, functions/api/generate.ts:174), which this "
        "network cannot reach, and the fuzz engine has no no-data mapping: POST /api/generate stays unfuzzed as the "
        "profile says; its malformed-JSON defect is caught by smoke/generate-rejects-malformed-json"),
    App("manuscript", 8703, "scarter4work/manuscript-platform (ff216d6)", "manuscript-platform", False,
        "the profile declares no fuzz section: every auth endpoint is rate limited per IP (3-5 requests per "
        "15-60 min, src/utils/rate-limiter.js:17-62), so fuzzing them measures the limiter"),
]

# What each failure the apps showed is, and the app code that causes it (read in the app's repository).
# key: (app, check id prefix) -> (category, explanation with file:line)
KNOWN: dict[tuple[str, str], tuple[str, str]] = {
    ("coldcopy", "generate-rejects-malformed-json"): (
        "defect", "functions/api/generate.ts:247 `await request.json()` throws on a non-JSON body; the catch at "
        ":377-414 answers 500 internal_error instead of 400"),
    ("coldcopy", "server-error-budget"): (
        "defect", "the 500 of generate-rejects-malformed-json (functions/api/generate.ts:247, :407)"),
    ("sixdegrees", "intake-creates-readable-campaign"): (
        "defect", "functions/api/intake.js:69-84 never stores user_name; functions/api/campaign/[id].js:86 answers "
        "user_name = the first sentence of the CV (user_background)"),
    ("sixdegrees", "intake-rejects-malformed-json"): (
        "defect", "functions/api/intake.js:29 `await request.json()` throws; the catch at :176-184 answers 500 "
        "with the parser's message"),
    ("sixdegrees", "intake-sends-cors-header"): (
        "defect", "functions/_middleware.js:6 exports a Worker-style `default { fetch }` that Pages never runs "
        "(a Pages middleware exports onRequest), so its CORS headers (:11-15) are never sent; intake.js:46 sets "
        "only Content-Type"),
    ("sixdegrees", "hygiene:nosniff"): (
        "defect", "functions/api/intake.js:46 and campaign/[id].js:97 answer with only Content-Type (Pages adds "
        "nosniff to static assets, not to Functions)"),
    ("sixdegrees", "server-error-budget"): (
        "defect", "the 500s of intake-rejects-malformed-json / fuzz.intake (functions/api/intake.js:29, :176-184)"),
    ("sixdegrees", "intake-language-toggle."): (
        "defect", "public/intake.html:147-158 `toggleLanguage()` switches the texts but never writes "
        "localStorage (the landing page keeps sixdegrees_language, public/index.html:256), so the choice is lost "
        "on reload and between pages"),
    ("sixdegrees", "intake-form."): (
        "defect", "public/intake.html:180 posts the form to /api/campaigns, which no Pages Function serves "
        "(functions/api has intake.js, campaign/[id].js; /api/campaigns lives only in the unused "
        "_middleware.js:23): the POST answers 405, the page alerts 'Failed to submit campaign' (:206) and never "
        "reaches a campaign page (on success it would go to gumroad.com, :201)"),
    ("sixdegrees", "fuzz.intake"): (
        "defect", "functions/api/intake.js:40 checks only truthiness: numbers and booleans are stored as text "
        "(200), arrays and objects reach D1's bind and answer 500 (:176-184)"),
    ("sixdegrees", "fuzz.flow.create-read-intake"): (
        "defect", "functions/api/campaign/[id].js:82-94 answers neither target_reason nor user_background (stored "
        "as motivation and cv by intake.js:77-81)"),
    ("sixdegrees", "fuzz.campaign"): (
        "false-alarm", "the fuzz coverage phase sends an empty path parameter: GET /api/campaign/ is not the "
        "declared route (Pages answers it with the static fallback page, 200); an empty path segment changes the "
        "route, so it is no invalid input of /api/campaign/{id} (synthgate's fuzz engine, issue 16)"),
    ("coldcopy", "landing.a11y"): (
        "defect", "frontend/src/pages/Landing.tsx:138,142 render the comparison card's notes as "
        "`text-xs text-destructive` on the card background: axe-core measures a contrast below WCAG AA (serious)"),
    ("manuscript", "login-rejects-bad-credentials"): (
        "drift", "src/handlers/auth-handlers.js:256 answers 400 'Invalid credentials'; the runbook (item 8) "
        "says bad credentials are refused with 401"),
    ("manuscript", "login-rejects-malformed-json"): (
        "defect", "src/handlers/auth-handlers.js:230 `await request.json()` throws inside the try; the catch at "
        ":295-298 answers 500 'Internal server error'"),
    ("manuscript", "password-reset-rejects-malformed-json"): (
        "defect", "src/handlers/auth-handlers.js:470 `await request.json()` throws; the catch at :518-521 "
        "answers 500 (runbook 9: the reset must not answer 500)"),
    ("manuscript", "server-error-budget"): (
        "defect", "the 500s of the malformed-JSON checks (src/handlers/auth-handlers.js:297, :520)"),
}
# Parts of a failure message that are the gate's mistake although the check also fails for a real defect.
PARTIAL_FALSE_ALARMS = {
    "response body contains a secret value": (
        "the secret registry learns every value a step saves (here the campaign id) and the read-back answer "
        "legitimately echoes that id (synthgate.redact learns saved fields; an id is no credential)"),
}
NO_DATA_WHY = {
    "coldcopy": "functions/api/generate.ts:174 calls https://api.anthropic.com/v1/messages (hard-coded: no "
                "variable sets the provider's address, so no local stand-in can be put in its place)",
    "manuscript": "src/utils/rate-limiter.js:17-62 (per-IP limits: login 5 per 15 min, reset 3 per hour)",
}


@dataclass
class StageRun:
    """One stage of one app: its checks as the gate reported them."""

    app: str
    stage: str
    exit_code: int
    seconds: float
    checks: list[dict] = field(default_factory=list)
    note: str = ""


def port_open(port: int) -> bool:
    """Whether something answers TCP on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def profile_for(app: App, stage: str, tmp: Path) -> str:
    """The bundled profile; for fuzz on an app whose local data is throwaway, the same with writes allowed."""
    if stage != "fuzz" or not app.fuzz_writes:
        return app.name
    text = (ROOT / "targets" / f"{app.name}.yaml").read_text(encoding="utf-8")
    lines = [("  allow_writes: true" if line.startswith("  allow_writes:") else line) for line in text.splitlines()]
    path = tmp / f"{app.name}-fuzz-writes.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def declares(app: App, stage: str) -> bool:
    """Whether the bundled profile has the stage (smoke always)."""
    data = yaml.safe_load((ROOT / "targets" / f"{app.name}.yaml").read_text(encoding="utf-8"))
    return stage == "smoke" or bool(data.get({"e2e": "journeys", "fuzz": "fuzz", "load": "load"}[stage]))


def run_stage(app: App, stage: str, tmp: Path) -> StageRun:
    """One `synthgate run --stages STAGE` against the app."""
    reports = tmp / f"{app.name}-{stage}"
    cmd = [str(SYNTHGATE), "run", "--profile", profile_for(app, stage, tmp), "--base-url",
           f"http://127.0.0.1:{app.port}", "--stages", stage, "--no-rollback", "--baseline", "none",
           "--reports", str(reports)]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False, cwd=ROOT)
    took = time.monotonic() - start
    verdict_path = reports / "verdict.json"
    if not verdict_path.exists():
        return StageRun(app.name, stage, proc.returncode, took, note=(proc.stderr or proc.stdout)[-300:])
    verdict = json.loads(verdict_path.read_text(encoding="utf-8"))
    checks = [c for s in verdict["stages"] for c in s["checks"]]
    return StageRun(app.name, stage, proc.returncode, took, checks)


def classify(app: str, check: dict) -> tuple[str, str]:
    """(category, explanation) of a failed check."""
    if check.get("kind") == "no-data":
        return "no-data", NO_DATA_WHY.get(app, "")
    for (name, prefix), known in KNOWN.items():
        if name == app and check["id"].startswith(prefix):
            category, why = known
            if category == "defect" and (check.get("details") or {}).get("contract_drift"):
                return "drift", why
            return known
    if check.get("kind") == "error":
        return "tool-error", "synthgate itself failed to run the check (not a finding about the app)"
    return "false-alarm", "not explained by the app's code: the gate is wrong here until shown otherwise"


def _cell(text: str, limit: int = 260) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(runs: list[StageRun], down: list[str], started: str, load_before: float) -> str:
    """RESULTS-realapps.md."""
    out = ["# The bundled profiles against the real apps", "",
           f"Measured {started[:10]} ({started}) by `benchmarks/realapps.py`, each stage run alone "
           "(`synthgate run --stages S --no-rollback --baseline none`).", "",
           f"- machine: {describe()}; load average (1 min) before / after: {load_before:.1f} / {load_average():.1f}",
           "- apps: Cloudflare's local runtime (wrangler 4.86 / workerd, local D1 and KV) started by "
           "`../shared/tools/realapps-up.sh`; this network reaches loopback and package registries only", ""]
    for app in APPS:
        out.append(f"- `{app.name}` http://127.0.0.1:{app.port}: {app.repo}"
                   + ("; NOT RUNNING, no figures" if app.name in down else ""))
    out.append("")
    if down:
        out += [f"**Apps not running: {', '.join(down)}.** Start them with `../shared/tools/realapps-up.sh "
                "SIX_GITDIR CC_GITDIR MS_GITDIR` (or pass `--restart` with the three git dirs).", ""]
    rows: dict[tuple[str, str], dict[str, list]] = {}
    for run in runs:
        cats: dict[str, list] = {"passed": [], "defect": [], "drift": [], "no-data": [], "false-alarm": [],
                                 "tool-error": [], "skipped": []}
        for c in run.checks:
            if c["status"] == "passed":
                cats["passed"].append(c)
            elif c["status"] == "skipped":
                cats["skipped"].append(c)
            else:
                cat, why = classify(run.app, c)
                cats[cat].append((c, why))
                for part, part_why in PARTIAL_FALSE_ALARMS.items():
                    if cat != "false-alarm" and part in c["message"]:
                        cats["false-alarm"].append(({**c, "id": f"{c['id']} (part: {part})"}, part_why))
        rows[(run.app, run.stage)] = cats
    out += ["## Summary", "", "| app | stage | exit | passed | defects | contract drift | not verified (no data) "
            "| false alarms | tool errors | skipped | time |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        cats = rows[(run.app, run.stage)]
        shown_exit = "not declared" if run.note and not run.checks and run.exit_code == 0 else run.exit_code
        out.append(f"| {run.app} | {run.stage} | {shown_exit} | {len(cats['passed'])} | {len(cats['defect'])} | "
                   f"{len(cats['drift'])} | {len(cats['no-data'])} | {len(cats['false-alarm'])} | "
                   f"{len(cats['tool-error'])} | {len(cats['skipped'])} | {run.seconds:.0f} s |")
    total_fa = sum(len(c["false-alarm"]) for c in rows.values())
    out += ["", f"False alarms in total: **{total_fa}** (goal: none).", ""]
    for app in APPS:
        app_runs = [r for r in runs if r.app == app.name]
        if not app_runs:
            continue
        out += [f"## {app.name}", ""]
        if not app.fuzz_writes and app.why_no_writes:
            out += [f"Fuzz: {app.why_no_writes}.", ""]
        for run in app_runs:
            cats = rows[(run.app, run.stage)]
            out += [f"### {app.name} / {run.stage} (exit {run.exit_code}, {run.seconds:.0f} s)", ""]
            if run.note:
                out += [f"Not run: {_cell(run.note)}" if not run.checks and run.exit_code == 0
                        else f"No verdict: {_cell(run.note)}", ""]
                if not run.checks:
                    continue
            passed = ", ".join(f"`{c['id']}`" for c in cats["passed"]) or "none"
            out += [f"Passed ({len(cats['passed'])}): {passed}", ""]
            for cat, title in (("defect", "Defects found"), ("drift", "Contract drift"),
                               ("no-data", "Not verified here (no data)"), ("false-alarm", "False alarms"),
                               ("tool-error", "Tool errors")):
                if not cats[cat]:
                    continue
                out += [f"{title}:", "", "| check | message | the app's code |", "|---|---|---|"]
                out += [f"| `{c['id']}` | {_cell(c['message'])} | {_cell(why, 400)} |" for c, why in cats[cat]]
                out.append("")
            if cats["skipped"]:
                out += ["Skipped: " + "; ".join(f"`{c['id']}` ({_cell(c['message'], 120)})" for c in cats["skipped"]),
                        ""]
    out += ["## Notes", "", *NOTES]
    return "\n".join(out) + "\n"


NOTES = [
    "- **Outside services.** No app lets the AI provider's address be configured: ColdCopy "
    "(functions/api/generate.ts:174), SixDegrees (functions/api/intake.js:91) and ManuScript "
    "(src/agents/*.js, `this.apiUrl`) all call https://api.anthropic.com directly, so no local stand-in can take "
    "its place. SixDegrees swallows the failure (intake.js:150-153: 'Strategy generation pending'), so its intake "
    "is verified; ColdCopy's generation answers 500 and its check is reported as not verified here (no data, "
    "`expect.unverifiable` with `needs_hosts: [api.anthropic.com]`: only while this runner cannot reach that host "
    "either). CDN scripts (cdn.tailwindcss.com, analytics) that cannot be resolved are this runner's network.",
    "- **Contract drift** fails the gate (README, 'Contract drift and unverifiable answers'): the profile keeps "
    "the runbook's contract and the report names the departure; fix the app or change the runbook and the "
    "profile together.",
    "- **Rate limits.** ManuScript limits /auth/login to 5 and /auth/password-reset-request to 3 requests per IP "
    "(15 min / 1 h): a second gate within that window gets 429s, reported as no data. `--restart` clears the "
    "local KV holding the counters so each measurement starts fresh.",
    "- **False alarms are the gate's own**, and each one found is fixed in synthgate and guarded by a self-test. "
    "The first measurement (2026-12-01) had two: the fuzz stage sent an empty path parameter, which names another "
    "route (`/api/campaign/` is SixDegrees' static fallback page, 200) — no phase sends one now "
    "(tests/self/test_fuzz_coverage.py); the leak scan counted a value the app itself handed out (a saved id "
    "echoed later) as a leaked secret — only values the runner was given are leaks "
    "(tests/self/test_leak_scan_learned.py).",
    "- **Fuzz writes.** SixDegrees is fuzzed with `fuzz.allow_writes: true` (its local D1 is a throwaway); the "
    "bundled profile keeps writes off for production.",
]


def restart(gitdirs: list[str]) -> None:
    """Stop the apps, clear ManuScript's local KV (its rate-limit counters), start them again."""
    subprocess.run([str(UP), "--stop"], check=False, timeout=120)
    shutil.rmtree(WORKDIR / "manuscript-platform" / ".wrangler" / "state" / "v3" / "kv", ignore_errors=True)
    subprocess.run([str(UP), *gitdirs], check=False, timeout=1800)


def main() -> int:
    """Run every stage of every app that is up; write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=[a.name for a in APPS], action="append")
    parser.add_argument("--restart", nargs=3, metavar=("SIX_GITDIR", "CC_GITDIR", "MS_GITDIR"))
    args = parser.parse_args()
    if args.restart:
        restart(args.restart)
    apps = [a for a in APPS if not args.only or a.name in args.only]
    down = [a.name for a in apps if not port_open(a.port)]
    if len(down) == len(apps):
        print(f"the apps are not running ({', '.join(down)}): start them with {UP} SIX_GITDIR CC_GITDIR MS_GITDIR;"
              f" {OUT.name} left as it is", file=sys.stderr)
        return 2
    started = datetime.now(UTC).isoformat(timespec="seconds")
    before = load_average()
    runs: list[StageRun] = []
    with tempfile.TemporaryDirectory(prefix="realapps-") as tmp:
        for app in apps:
            if app.name in down:
                continue
            for stage in STAGES:
                if not declares(app, stage):
                    runs.append(StageRun(app.name, stage, 0, 0.0, note=f"the profile declares no {stage} stage"))
                    continue
                run = run_stage(app, stage, Path(tmp))
                print(f"{app.name} {stage}: exit {run.exit_code}, {len(run.checks)} checks, {run.seconds:.0f} s",
                      flush=True)
                runs.append(run)
    OUT.write_text(render(runs, down, started, before), encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
