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


def _cross_app_imports() -> list[tuple[str, str]]:
    """(importing file, imported module) for every import of another project app's module."""
    project = _project_apps()
    found = []
    for package in sorted(project):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                elif isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                else:
                    continue
                for module in modules:
                    parts = module.split(".")
                    if parts[0] in project and parts[0] != package and len(parts) > 1:
                        found.append((str(path.relative_to(ROOT)), ".".join(parts[:2])))
    return found


def test_no_app_imports_another_apps_views_forms_or_tasks():
    """Across apps only models, services, selectors (and the like) are imported; views,
    forms and tasks belong to their app's pages and workers."""
    private = {"views", "forms", "tasks"}
    offending = [
        (path, module) for path, module in _cross_app_imports() if module.split(".")[1] in private
    ]
    assert offending == []
