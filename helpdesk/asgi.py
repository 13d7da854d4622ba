"""ASGI entry point: HTTP through Django, websockets through Channels."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from helpdesk.discovery import project_app_modules  # noqa: E402
from helpdesk.endpoints import HttpRouter  # noqa: E402

# Each app's websocket URLs (``<app>/routing.py``: cti's console), found rather than imported:
# the core names no app.
websocket_urlpatterns = [
    pattern for module in project_app_modules("routing") for pattern in module.websocket_urlpatterns
]

application = ProtocolTypeRouter(
    {
        # Views for telephone systems skip the browser middleware (helpdesk/endpoints.py).
        "http": HttpRouter(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)

# Garbage collection, tuned by measurement (bench/cti_screen_pop.py, docs/cti.md): with the
# defaults a server holding 250 consoles per process ran a full collection every ~7 s at
# 100 rings/s, a 40-70 ms pause of everything in that process, which set the screen pop's
# 99th percentile. Two changes remove it:
# - what is loaded at start (Django, the apps, URL and template machinery) lives as long as
#   the process: freeze it out of the collector's sight;
# - collect the young generation after 10,000 new objects instead of 700: requests are
#   short, so their objects are freed before a collection sees them, instead of being
#   promoted to the old generation whose growth triggers the full collections. A young
#   collection then takes a few ms, and at 100 rings/s no full collection was seen.
gc.collect()
gc.freeze()
gc.set_threshold(10_000, 10, 10)
