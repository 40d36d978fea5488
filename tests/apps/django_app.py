"""A Django project in one module for the framework tests (``django_app:application``).

Minimal settings come from ``settings.configure`` here (no settings module, no
database); this module is its own ROOT_URLCONF.  No middleware, so no CSRF check;
the form view is ``csrf_exempt`` as well, so it stays open if middleware is added.
"""

from __future__ import annotations

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="starlet-py-tests-only",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={},
    USE_TZ=True,
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402 - after settings.configure
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402


def hello(request: HttpRequest, name: str) -> HttpResponse:
    return HttpResponse(f"hello {name}", content_type="text/plain")


@csrf_exempt
def form(request: HttpRequest) -> HttpResponse:
    """A form POST: urlencoded fields (one repeated) echoed back as JSON."""
    if request.method != "POST":
        return HttpResponse("POST only", status=405, content_type="text/plain")
    return JsonResponse(
        {
            "name": request.POST["name"],
            "colors": request.POST.getlist("color"),
            "host": request.get_host(),
            "secure": request.is_secure(),
        }
    )


def whoami(request: HttpRequest) -> HttpResponse:
    """What Django makes of the request's scheme and client (the proxy-header tests)."""
    return JsonResponse(
        {
            "secure": request.is_secure(),
            "url": request.build_absolute_uri("/"),
            "remote": request.META["REMOTE_ADDR"],
            "port": request.get_port(),
        }
    )


urlpatterns = [path("hello/<str:name>", hello), path("form", form), path("whoami", whoami)]

application = get_wsgi_application()
