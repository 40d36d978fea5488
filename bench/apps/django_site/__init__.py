"""A small but realistic Django project for bench/run.py's mem-django scenario
(``django_site.wsgi:application``): settings, a URLconf, views that render
templates (one extends a base) and answer JSON, the usual middleware; no database.

Routes (every answer 200): ``/`` (a page listing items), ``/items/<id>/`` (one
item), ``/api/items/`` (JSON, ``?limit=N``), ``/health/`` (plain text).

Django imports the URLconf and the views, and compiles the templates, on the
first request: without --warmup each worker does that privately.
"""
