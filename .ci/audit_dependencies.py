"""pip-audit of the pinned runtime requirements, for .ci/run (see docs/dependencies.md).

- a known vulnerability in a pinned package fails (exit 1), unless its id is listed with a
  reason in .ci/pip-audit-ignore;
- a package the vulnerability database could not answer for is *not audited*: said in a
  banner naming the packages, and a failure only with PIP_AUDIT_REQUIRED=1, because the
  database is outside our control and CI must not fail for a network it cannot reach;
- everything checked and clean: one line saying so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORE_FILE = ROOT / ".ci" / "pip-audit-ignore"
TIMEOUT = 120


def ignored_ids() -> list[str]:
    if not IGNORE_FILE.exists():
        return []
    ids = []
    for line in IGNORE_FILE.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            ids.append(line.split()[0])
    return ids


def run_audit(report: Path) -> tuple[int, str]:
    command = [
        str(ROOT / ".venv" / "bin" / "pip-audit"),
        "--requirement",
        str(ROOT / "requirements.txt"),
        # Every package is pinned in the file: no resolution, no pip environment.
        "--no-deps",
        "--disable-pip",
        "--progress-spinner",
        "off",
        "--format",
        "json",
        "--output",
        str(report),
    ]
    for vulnerability in ignored_ids():
        command += ["--ignore-vuln", vulnerability]
    try:
        # Fixed paths and the ids of our own ignore file: no outside input.
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)  # noqa: S603
    except subprocess.TimeoutExpired:
        return -1, f"pip-audit did not finish in {TIMEOUT} s"
    except FileNotFoundError:
        return -1, "pip-audit is not installed in .venv (requirements-dev.txt pins it)"
    return done.returncode, done.stderr


def not_audited(reason: str) -> int:
    print("!" * 78)
    print("!! DEPENDENCIES NOT AUDITED: no known-vulnerability check was made.")
    for line in reason.strip().splitlines():
        print(f"!!   {line}")
    required = os.environ.get("PIP_AUDIT_REQUIRED") == "1"
    print(
        "!! PIP_AUDIT_REQUIRED=1: failing."
        if required
        else "!! Not failing CI for it (set PIP_AUDIT_REQUIRED=1 where the database is reachable)."
    )
    print("!" * 78)
    return 1 if required else 0


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "audit.json"
        code, errors = run_audit(report)
        try:
            dependencies = json.loads(report.read_text())["dependencies"]
        except (OSError, ValueError, KeyError):
            tail = "\n".join(errors.strip().splitlines()[-5:])
            return not_audited(f"pip-audit failed (exit {code}) before it reported:\n{tail}")
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    for dependency in vulnerable:
        for vulnerability in dependency["vulns"]:
            fixes = ", ".join(vulnerability.get("fix_versions") or []) or "none yet"
            print(
                f"VULNERABLE {dependency['name']} {dependency['version']}: "
                f"{vulnerability['id']} (fixed in: {fixes})"
            )
    if vulnerable:
        print(
            f"pip-audit: {len(vulnerable)} pinned package(s) with known vulnerabilities: "
            "upgrade the pin, or list the id with a reason in .ci/pip-audit-ignore."
        )
        return 1
    audited = len(dependencies) - len(skipped)
    if skipped:
        names = ", ".join(d["name"] for d in skipped)
        return not_audited(
            f"{len(skipped)} of {len(dependencies)} pinned packages could not be looked up "
            f"in the vulnerability database (is PyPI's JSON API reachable?):\n{names}\n"
            f"first reason: {skipped[0]['skip_reason']}"
        )
    print(f"pip-audit: {audited} pinned packages, no known vulnerabilities.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
