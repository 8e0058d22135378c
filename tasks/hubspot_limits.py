"""HubSpot's documented limits that both the plan and the load go by.

Kept free of imports so that the load's settings (``tasks/load/settings.py``) can read them
without the planner's dependencies (polars, pandera) that ``tasks.import_files`` brings.
"""

MAX_OPTIONS_PER_PROPERTY = 5_000
"""A multiple checkboxes property holds at most 5,000 options (HubSpot's property field types,
https://knowledge.hubspot.com/account/property-field-types-in-hubspot); a create or update with
more is refused. Held for every enumeration field type (dropdown, radio too): assumed, the page
gives no other figure. The plan's report warns of a property with more distinct values
(``tasks/report.py``); the load makes options of at most this many (``tasks/load/properties.py``)."""
