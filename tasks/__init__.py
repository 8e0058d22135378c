"""Onramp's tasks: extract, validate, transform, plan and load."""

# Process-wide, so set as soon as any task module is imported: see tasks/csv_field_limit.py.
from tasks import csv_field_limit  # noqa: F401
