"""Source profiles: where each source column goes in HubSpot, read from TOML data files.

A profile is data, not code (``profiles/<name>.toml`` beside this module), so adding a source
or re-routing a column is an edit to a table. Headers match case-insensitively after trimming.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tasks.transform.consent import ConsentPolicy

PROFILES_DIR = Path(__file__).parent / "profiles"

PROPERTY_NAME = re.compile(r"[a-z][a-z0-9_]*")
"""A HubSpot property's internal name: lowercase letters, digits and underscores, starting with a letter."""
_NOT_NAME_CHARS = re.compile(r"[^a-z0-9]+")
MAX_PROPERTY_NAME_LENGTH = 100


@dataclass(frozen=True)
class CustomProperty:
    """A HubSpot property Onramp creates for a source column with no default home.

    Attributes:
        name: Internal property name.
        label: Label shown in HubSpot.
        group: Property group name.
        source_label: The source format's name (``Mailchimp``), for the description: in a run
            mixing formats each property names the format whose column it holds.
        type: HubSpot property ``type`` (string, number, datetime, ...).
        field_type: HubSpot ``fieldType`` (text, textarea, number, date, ...).
        values: How cell values are read: ``text`` as they are, ``tag_list`` a quoted
            comma-separated list written back ``;``-separated.
        source_column: The source header it was made for.
    """

    name: str
    label: str
    group: str
    source_label: str
    type: str = "string"
    field_type: str = "text"
    values: str = "text"
    source_column: str = ""

    def hubspot_definition(self, options: list[dict] | None = None) -> dict:
        """The body HubSpot's Properties API takes to create this property.

        Args:
            options: An enumeration's options (``{label, value, hidden, displayOrder}``), which
                the planner finds in the data; left out of the body when ``None``.
        """
        definition = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "groupName": self.group,
            "description": f"{self.source_label} column {self.source_column!r}, migrated by Onramp.",
        }
        return definition if options is None else {**definition, "options": options}


@dataclass(frozen=True)
class SourceProfile:
    """Everything format-specific the transform needs about one source format."""

    format: str
    label: str
    group_name: str
    group_label: str
    last_changed_columns: tuple[str, ...]
    timestamp_format: str
    default_properties: dict[str, str]
    custom_properties: dict[str, CustomProperty]
    consent: ConsentPolicy

    def route(self, header: str) -> str | CustomProperty:
        """Where a source column goes: a default property's name, or a custom property.

        A header the profile does not know (a user-defined merge field) becomes a text
        property named after it, so no column is ever dropped.
        """
        key = header.strip().lower()
        if key in self.default_properties:
            return self.default_properties[key]
        if key in self.custom_properties:
            return self.custom_properties[key]
        return self.unlisted_route(header)

    def unlisted_route(self, header: str) -> CustomProperty:
        """The text property a column the profile does not list goes to, named after it."""
        return CustomProperty(
            name=custom_property_name(self.group_name, header),
            label=header.strip(),
            group=self.group_name,
            source_label=self.label,
            source_column=header.strip(),
        )


def custom_property_name(group: str, header: str) -> str:
    """``("mailchimp", "Favourite Colour")`` → ``mailchimp_favourite_colour``."""
    return f"{group}_{property_slug(header) or 'column'}"[:MAX_PROPERTY_NAME_LENGTH]


def property_slug(text: str) -> str:
    """``" Favourite Colour! "`` → ``favourite_colour``: text as property-name characters (maybe empty)."""
    return _NOT_NAME_CHARS.sub("_", text.strip().lower()).strip("_")


@cache
def load_profile(name: str) -> SourceProfile:
    """Read ``profiles/<name>.toml``.

    Args:
        name: The profile file's stem, e.g. ``mailchimp``.
    """
    data = tomllib.loads((PROFILES_DIR / f"{name}.toml").read_text(encoding="utf-8"))
    group = data["property_group"]
    customs = {
        column.lower(): CustomProperty(
            name=spec["name"],
            label=spec["label"],
            group=group["name"],
            source_label=data["label"],
            type=spec.get("type", "string"),
            field_type=spec.get("field_type", "text"),
            values=spec.get("values", "text"),
            source_column=column,
        )
        for column, spec in data.get("custom_properties", {}).items()
    }
    return SourceProfile(
        format=data["format"],
        label=data["label"],
        group_name=group["name"],
        group_label=group["label"],
        last_changed_columns=tuple(data.get("last_changed_columns", ())),
        timestamp_format=data.get("timestamp_format", "%Y-%m-%d %H:%M:%S"),
        default_properties={k.lower(): v for k, v in data.get("default_properties", {}).items()},
        custom_properties=customs,
        consent=ConsentPolicy.from_mapping(data["format"], data.get("consent", {})),
    )
