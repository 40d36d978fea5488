"""The URLconf (Django imports it, and the views, on the first request)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("items/<int:item_id>/", views.item, name="item"),
    path("api/items/", views.api_items, name="api-items"),
    path("health/", views.health, name="health"),
]
