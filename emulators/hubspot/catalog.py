"""HubSpot's default properties and property groups, seeded into every new portal.

Only what a migration touches is listed; each entry is ``(name, label, type, fieldType,
options, read_only)``. Options are ``(value, label)`` pairs.
"""

from __future__ import annotations

from typing import Any

CONTACTS = "0-1"
COMPANIES = "0-2"

# Names the API accepts for each object type.
OBJECT_TYPE_IDS = {
    "contacts": CONTACTS,
    "contact": CONTACTS,
    CONTACTS: CONTACTS,
    "companies": COMPANIES,
    "company": COMPANIES,
    COMPANIES: COMPANIES,
}

# Association type ids HubSpot defines, by (from, to): (primary, unlabeled default).
ASSOCIATION_TYPE_IDS = {
    (CONTACTS, COMPANIES): (1, 279),
    (COMPANIES, CONTACTS): (2, 280),
}

# objectType names used in import errors and list records.
OBJECT_TYPE_NAMES = {CONTACTS: "CONTACT", COMPANIES: "COMPANY"}

LIFECYCLE_STAGES = (
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
)

LEAD_STATUSES = (
    ("NEW", "New"),
    ("OPEN", "Open"),
    ("IN_PROGRESS", "In Progress"),
    ("OPEN_DEAL", "Open Deal"),
    ("UNQUALIFIED", "Unqualified"),
    ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"),
    ("CONNECTED", "Connected"),
    ("BAD_TIMING", "Bad Timing"),
)

BOOLEAN_OPTIONS = (("true", "Yes"), ("false", "No"))

_TEXT = ("string", "text")
_PHONE = ("string", "phonenumber")
_DATETIME = ("datetime", "date")
_NUMBER = ("number", "number")
_BOOL = ("bool", "booleancheckbox")

# Fields contacts and companies share.
_ADDRESS = (
    ("address", "Street Address", _TEXT, (), False),
    ("city", "City", _TEXT, (), False),
    ("state", "State/Region", _TEXT, (), False),
    ("zip", "Postal Code", _TEXT, (), False),
    ("country", "Country/Region", _TEXT, (), False),
    ("industry", "Industry", _TEXT, (), False),
)

_CONTACT_PROPERTIES: tuple[tuple[str, str, tuple[str, str], tuple, bool], ...] = (
    ("email", "Email", _TEXT, (), False),
    ("firstname", "First Name", _TEXT, (), False),
    ("lastname", "Last Name", _TEXT, (), False),
    ("salutation", "Salutation", _TEXT, (), False),
    ("phone", "Phone Number", _PHONE, (), False),
    ("mobilephone", "Mobile Phone Number", _PHONE, (), False),
    ("fax", "Fax Number", _PHONE, (), False),
    ("company", "Company Name", _TEXT, (), False),
    ("jobtitle", "Job Title", _TEXT, (), False),
    ("website", "Website URL", _TEXT, (), False),
    *_ADDRESS,
    ("message", "Message", ("string", "textarea"), (), False),
    ("date_of_birth", "Date of birth", _TEXT, (), False),
    ("hs_language", "Preferred language", _TEXT, (), False),
    ("hs_additional_emails", "Additional email addresses", ("enumeration", "checkbox"), (), True),
    ("lifecyclestage", "Lifecycle Stage", ("enumeration", "radio"), LIFECYCLE_STAGES, False),
    ("hs_lead_status", "Lead Status", ("enumeration", "radio"), LEAD_STATUSES, False),
    ("hs_marketable_status", "Marketing contact status", ("enumeration", "select"),
     BOOLEAN_OPTIONS, True),
    ("hs_marketable_until_renewal", "Marketing contact until next update", _BOOL, BOOLEAN_OPTIONS, True),
    ("hs_email_optout", "Unsubscribed from all email", _BOOL, BOOLEAN_OPTIONS, True),
    ("hs_email_bounce", "Marketing emails bounced", _NUMBER, (), True),
    ("createdate", "Create Date", _DATETIME, (), True),
    ("lastmodifieddate", "Last Modified Date", _DATETIME, (), True),
    ("hs_object_id", "Record ID", _NUMBER, (), True),
)

_COMPANY_PROPERTIES: tuple[tuple[str, str, tuple[str, str], tuple, bool], ...] = (
    ("name", "Company name", _TEXT, (), False),
    ("domain", "Company Domain Name", _TEXT, (), False),
    ("website", "Website URL", _TEXT, (), False),
    ("phone", "Phone Number", _PHONE, (), False),
    *_ADDRESS,
    ("createdate", "Create Date", _DATETIME, (), True),
    ("hs_lastmodifieddate", "Last Modified Date", _DATETIME, (), True),
    ("hs_object_id", "Record ID", _NUMBER, (), True),
)

DEFAULT_GROUPS = {
    CONTACTS: (("contactinformation", "Contact information"),),
    COMPANIES: (("companyinformation", "Company information"),),
}

# Properties whose values the API may read but never write.
READ_ONLY = {
    CONTACTS: {name for name, *_, read_only in _CONTACT_PROPERTIES if read_only},
    COMPANIES: {name for name, *_, read_only in _COMPANY_PROPERTIES if read_only},
}


def _options(pairs: tuple) -> list[dict[str, Any]]:
    return [
        {"value": value, "label": label, "hidden": False, "displayOrder": order}
        for order, (value, label) in enumerate(pairs)
    ]


def property_definition(
    name: str,
    label: str,
    type_: str,
    field_type: str,
    group_name: str,
    *,
    options: list[dict[str, Any]] | None = None,
    description: str = "",
    hubspot_defined: bool = False,
    read_only: bool = False,
    has_unique_value: bool = False,
    display_order: int = -1,
    hidden: bool = False,
    form_field: bool = False,
    timestamp: str,
) -> dict[str, Any]:
    """Return a property in the specs' ``Property`` shape.

    Args:
        name: internal name.
        label: display label.
        type_: data type (``string``, ``number``, ``date``, ``datetime``, ``enumeration``,
            ``bool``, ``phone_number``).
        field_type: form field type.
        group_name: the property group.
        options: enumeration options, in the ``Option`` shape.
        description: description.
        hubspot_defined: whether HubSpot defines it (default properties).
        read_only: whether its value can't be written through the API.
        has_unique_value: whether values are unique (usable as an alternate id).
        display_order: display order.
        hidden: hidden in forms.
        form_field: usable in forms.
        timestamp: ISO-8601 creation time.
    """
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "description": description,
        "groupName": group_name,
        "options": options or [],
        "displayOrder": display_order,
        "calculated": False,
        "externalOptions": False,
        "hasUniqueValue": has_unique_value,
        "hidden": hidden,
        "hubspotDefined": hubspot_defined,
        "modificationMetadata": {
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
            "readOnlyValue": read_only,
        },
        "formField": form_field,
        "dataSensitivity": "non_sensitive",
        "createdAt": timestamp,
        "updatedAt": timestamp,
        "archived": False,
    }


def default_properties(object_type_id: str, timestamp: str) -> dict[str, dict[str, Any]]:
    """Return HubSpot's default properties of an object type, by name."""
    table = _CONTACT_PROPERTIES if object_type_id == CONTACTS else _COMPANY_PROPERTIES
    group = DEFAULT_GROUPS[object_type_id][0][0]
    return {
        name: property_definition(
            name,
            label,
            type_,
            field_type,
            group,
            options=_options(options),
            hubspot_defined=True,
            read_only=read_only,
            has_unique_value=name == "email",
            display_order=order,
            timestamp=timestamp,
        )
        for order, (name, label, (type_, field_type), options, read_only) in enumerate(table)
    }


def default_groups(object_type_id: str) -> dict[str, dict[str, Any]]:
    """Return HubSpot's default property groups of an object type, by name."""
    return {
        name: {"name": name, "label": label, "displayOrder": order, "archived": False}
        for order, (name, label) in enumerate(DEFAULT_GROUPS[object_type_id])
    }
