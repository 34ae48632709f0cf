"""Jinja2 templates and static assets for the hub dashboard and the edge fallback page."""

from pathlib import Path

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
