"""Finding what the project's apps provide, so that the core names no app.

The core defines a few conventional module names; each app that has such a module takes
part: ``<app>.demo`` (``manage.py seed_demo``), ``<app>.routing`` (websocket URLs of the
ASGI application). Apps are visited in the order of ``INSTALLED_APPS``, which lists them
in the direction of their dependencies (``helpdesk``, ``tickets``, then the apps built on
tickets), so the order is deterministic and an app comes after those it builds on.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

from django.apps import AppConfig, apps
from django.conf import settings


def project_apps() -> list[AppConfig]:
    """The installed apps of this project (not Django's or third parties'), in order."""
    root = Path(settings.BASE_DIR).resolve()
    return [
        config for config in apps.get_app_configs() if Path(config.path).resolve().parent == root
    ]


def project_app_modules(name: str, *, exclude: tuple[str, ...] = ()) -> list[ModuleType]:
    """The ``<app>.<name>`` modules of the project's apps that have one, imported, in the
    order of ``INSTALLED_APPS``; apps named in ``exclude`` are left out."""
    modules = []
    for config in project_apps():
        if config.name in exclude:
            continue
        if importlib.util.find_spec(f"{config.name}.{name}") is None:
            continue
        modules.append(importlib.import_module(f"{config.name}.{name}"))
    return modules
