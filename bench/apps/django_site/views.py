"""The views: two template renders, JSON, plain text."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

ITEMS = [{"id": i, "name": f"item {i}", "price": 3.5 * i, "tags": ["a", "b"][: i % 3]} for i in range(1, 21)]


def index(request: HttpRequest) -> HttpResponse:
    return render(request, "index.html", {"title": "Shop", "items": ITEMS})


def item(request: HttpRequest, item_id: int) -> HttpResponse:
    if not 1 <= item_id <= len(ITEMS):
        raise Http404("no such item")
    return render(request, "item.html", {"title": f"Item {item_id}", "item": ITEMS[item_id - 1]})


def api_items(request: HttpRequest) -> JsonResponse:
    limit = int(request.GET.get("limit", len(ITEMS)))
    return JsonResponse({"count": min(limit, len(ITEMS)), "items": ITEMS[:limit]})


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
