"""The direction of dependencies (docs/architecture.md): ``helpdesk`` imports no app,
``tickets`` imports no app but ``helpdesk``. Other apps are reached through string
references (``include("cti.urls")``) and discovery (``<app>.demo``, ``<app>.routing``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def _project_apps() -> set[str]:
    return {
        config.name
        for config in apps.get_app_configs()
        if Path(config.path).resolve().parent == ROOT.resolve()
    }


def _imported_apps(package: str) -> dict[str, set[str]]:
    """Project apps imported anywhere in ``package`` (at any depth), by importing file."""
    project = _project_apps()
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in project and top != package:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize(("package", "allowed"), [("helpdesk", set()), ("tickets", {"helpdesk"})])
def test_an_app_imports_only_the_apps_below_it(package, allowed):
    imported = _imported_apps(package)
    assert {app: files for app, files in imported.items() if app not in allowed} == {}
