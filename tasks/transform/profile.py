"""Source profiles: where each source column goes in HubSpot, read from TOML data files.

A profile is data, not code (``profiles/<name>.toml`` beside this module), so adding a source
or re-routing a column is an edit to a table. Headers match case-insensitively after trimming.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import chain, count
from pathlib import Path

from tasks.transform.consent import ConsentPolicy

PROFILES_DIR = Path(__file__).parent / "profiles"

PROPERTY_NAME = re.compile(r"[a-z][a-z0-9_]*")
"""A HubSpot property's internal name: lowercase letters, digits and underscores, starting with a letter."""
_NOT_NAME_CHARS = re.compile(r"[^a-z0-9]+")
MAX_PROPERTY_NAME_LENGTH = 100

HEADER_HASH_BYTES = 4
"""The size of the hash that keeps a header's property name its own (8 hex characters)."""


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

    def lists(self, header: str) -> bool:
        """Whether the profile (or the user's mapping) says where this column goes."""
        key = header.strip().lower()
        return key in self.default_properties or key in self.custom_properties

    def route(self, header: str) -> str | CustomProperty:
        """Where a source column goes: a default property's name, or a custom property.

        A header the profile does not know (a user-defined merge field) becomes a text
        property named after it, so no column is ever dropped. Two such headers of one file
        may share that name (``Fav Colour``, ``Fav-Colour``): ``routes`` keeps them apart.
        """
        key = header.strip().lower()
        if key in self.default_properties:
            return self.default_properties[key]
        if key in self.custom_properties:
            return self.custom_properties[key]
        return self.unlisted_route(header)

    def routes(self, headers: Sequence[str]) -> dict[str, str | CustomProperty]:
        """Where each of a file's columns goes, no column the profile does not list sharing a
        property with another column.

        A listed column goes where the profile says, even to a property another listed column
        fills (``Phone`` and ``Phone Number`` both fill ``phone``). An unlisted one gets a
        property of its own (``unlisted_route``): when its name is another column's target,
        the header's hash is added to it, so each column keeps its values. Of unlisted headers
        sharing a name, the one that sorts first by its exact text keeps it plain (``Fav Colour``
        before ``Fav-Colour``), whatever the file's column order.

        Args:
            headers: The file's headers (distinct, the email column left out), in file order.
        """
        listed = {header: self.route(header) for header in headers if self.lists(header)}
        taken = {property_name(target) for target in listed.values()}
        unlisted: dict[str, CustomProperty] = {}
        # Named in the order of the headers' text, not the file's: a later export that swaps two
        # clashing columns must not swap the properties their values go to.
        for header in sorted(headers):
            if header not in listed:
                unlisted[header] = self.unlisted_route(header, taken)
                taken.add(unlisted[header].name)
        return {header: listed.get(header) or unlisted[header] for header in headers}

    def routes_with_copies(self, headers: Sequence[str]) -> list[tuple[str, str | CustomProperty]]:
        """Every place a file's columns go: each column's route (:meth:`routes`), then a copy of
        each column that fills a property after another one does, in a property of its own.

        Several columns may fill one property (Constant Contact's home, work and other phones
        all go to ``phone``): the property takes each row's first non-empty value, in file
        order, and every column after the first is kept whole as well, as an unlisted column
        would be, so a row's second phone is not lost. The copies are named in the order of the
        headers' text, as :meth:`routes` names unlisted ones: of two whose names clash, the same
        one keeps the plain name whatever the column order.

        Args:
            headers: The file's headers (distinct, the email column left out), in file order.

        Returns:
            ``(header, target)`` pairs: one per header, in file order, then one per copy.
        """
        routes = list(self.routes(headers).items())
        fills: dict[str, list[str]] = {}
        for header, target in routes:
            fills.setdefault(property_name(target), []).append(header)
        taken = set(fills)
        for header in sorted(header for sources in fills.values() for header in sources[1:]):
            copy = self.unlisted_route(header, taken)
            taken.add(copy.name)
            routes.append((header, copy))
        return routes

    def unlisted_route(self, header: str, taken: Collection[str] = ()) -> CustomProperty:
        """The text property a column the profile does not list goes to, named after it.

        Never a custom property the profile lists for another column (``Member Rating`` beside
        Mailchimp's ``MEMBER_RATING``), in this file or another of the run.

        Args:
            header: The column's header.
            taken: Property names other columns of the file go to, which this one must not.
        """
        listed = {prop.name for prop in self.custom_properties.values()}
        return CustomProperty(
            name=distinct_property_name(custom_property_name(self.group_name, header), header, taken, listed),
            label=header.strip(),
            group=self.group_name,
            source_label=self.label,
            source_column=header.strip(),
        )


def property_name(target: str | CustomProperty) -> str:
    """The name of the property a column goes to: a default property's, or a custom one's."""
    return target.name if isinstance(target, CustomProperty) else target


def custom_property_name(group: str, header: str) -> str:
    """A valid HubSpot internal name for a header's property, the same for the same header.

    ``("mailchimp", "Favourite Colour")`` → ``mailchimp_favourite_colour``. A character outside
    a-z and 0-9 is a separator, accented letters too (``Prénom`` → ``mailchimp_pr_nom``): the
    names earlier versions gave, so a recurring sync keeps filling the properties it made. A
    header whose letters and digits are all outside them (``Имя``, ``電話番号``), which earlier
    versions all sent to one ``imported_column``, gets the header's hash after ``column``
    (``imported_column_25ca9f1c``), so each keeps its values; one with no letter or digit at
    all (``#``) still gets ``imported_column``.
    """
    slug = property_slug(header)
    if slug:
        return f"{group}_{slug}"[:MAX_PROPERTY_NAME_LENGTH]
    name = f"{group}_column"
    return _with_header_hash(name, header) if any(char.isalnum() for char in header) else name


def distinct_property_name(name: str, header: str, *taken: Collection[str]) -> str:
    """``name``, or when another column's property has it (it is in one of ``taken``), ``name``
    with the header's hash.

    ``("imported_fav_colour", "Fav-Colour", {"imported_fav_colour"})`` →
    ``imported_fav_colour_<8 hex>``: the same for that header in every run, so a recurring sync
    fills the same property.
    """
    candidates = chain([name], (_with_header_hash(name, header, attempt) for attempt in count()))
    return next(candidate for candidate in candidates if not any(candidate in names for names in taken))


def property_slug(text: str) -> str:
    """``" Favourite Colour! "`` → ``favourite_colour``, ``Année`` → ``ann_e``: text as
    property-name characters (maybe empty), every run of other characters one ``_``."""
    return _NOT_NAME_CHARS.sub("_", text.strip().lower()).strip("_")


def _with_header_hash(name: str, header: str, attempt: int = 0) -> str:
    """``name`` ending in a hash of the header (of the header and ``attempt`` after the first),
    cut to fit HubSpot's name length."""
    text = header.strip().casefold() + (f"\n{attempt}" if attempt else "")
    digest = hashlib.blake2s(text.encode("utf-8"), digest_size=HEADER_HASH_BYTES).hexdigest()
    return f"{name[: MAX_PROPERTY_NAME_LENGTH - len(digest) - 1]}_{digest}"


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
