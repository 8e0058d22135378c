"""The emulated account: seeded contacts shaped as the v3 API returns them, lists, tags and
custom fields, and the contact queries."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from benchmarks.fake_people import CITIES, DOMAINS, FIRST_NAMES, LAST_NAMES, STREETS, TIME_ORIGIN, TIME_SPAN_SECONDS
from emulators.constant_contact.settings import ConstantContactSettings

LISTS = ("General Interest", "Regatta 2025", "Volunteers")
TAGS = ("Member", "Board, former", "VIP")
CUSTOM_FIELDS = (("favourite_boat", "Favourite boat"), ("member_since", "Member since"))
BOATS = ("Laser", "J/24", "Catamaran")

SUB_RESOURCES = ("custom_fields", "list_memberships", "phone_numbers", "street_addresses", "taggings", "notes")


def iso(moment: datetime) -> str:
    """A time as the v3 API writes it: ``2024-05-01T12:30:00Z``."""
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    """An ISO 8601 time (``Z`` or an offset; a bare date is midnight UTC)."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class Account:
    """The account's contacts (in paging order) and the names of its lists, tags and fields."""

    contacts: list[dict]
    lists: list[dict]
    tags: list[dict]
    custom_fields: list[dict]

    @classmethod
    def seeded(cls, settings: ConstantContactSettings) -> Account:
        """Contacts generated from the settings' seed."""
        rng = random.Random(settings.seed)
        ids = lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))  # noqa: E731
        lists = [{"list_id": ids(), "name": name, "favorite": False} for name in LISTS]
        tags = [{"tag_id": ids(), "name": name} for name in TAGS]
        fields = [{"custom_field_id": ids(), "name": name, "label": label, "type": "string"} for name, label in CUSTOM_FIELDS]
        permissions = rng.choices(
            list(settings.permission_shares), weights=list(settings.permission_shares.values()), k=settings.contacts
        )
        contacts = [
            _contact(rng, ids, index, permission, rng.random() < settings.deleted_share, lists, tags, fields)
            for index, permission in enumerate(permissions)
        ]
        return cls(contacts, lists, tags, fields)

    def select(self, statuses: set[str], updated_after: datetime | None) -> list[dict]:
        """The contacts a listing filters to (without ``status``: every contact not deleted)."""

        def wanted(contact: dict) -> bool:
            deleted = "deleted_at" in contact
            permission = contact["email_address"]["permission_to_send"]
            if "all" in statuses:
                matches = True
            elif deleted:
                matches = "deleted" in statuses
            else:
                matches = not statuses or permission in statuses or (
                    "active" in statuses and permission in ("explicit", "implicit")
                )
            return matches and (updated_after is None or parse_time(contact["updated_at"]) > updated_after)

        return [contact for contact in self.contacts if wanted(contact)]

    def touch(self, count: int, moment: datetime, permission: str | None = None) -> list[str]:
        """Update the first ``count`` contacts at ``moment`` (optionally their permission).

        Returns:
            Their email addresses.
        """
        changed = self.contacts[:count]
        for contact in changed:
            contact["updated_at"] = contact["email_address"]["updated_at"] = iso(moment)
            if permission is not None:
                contact["email_address"]["permission_to_send"] = permission
        return [contact["email_address"]["address"] for contact in changed]

    def truth(self, include_deleted: bool = True) -> dict[str, int]:
        """Contacts per permission (``deleted`` counted apart)."""
        counts: dict[str, int] = {}
        for contact in self.contacts:
            key = "deleted" if "deleted_at" in contact else contact["email_address"]["permission_to_send"]
            if key != "deleted" or include_deleted:
                counts[key] = counts.get(key, 0) + 1
        return counts


def shape(contact: dict, include: set[str]) -> dict:
    """A contact as returned: sub-resources only when ``include`` names them."""
    return {key: value for key, value in contact.items() if key not in SUB_RESOURCES or key in include}


def _contact(rng, ids, index, permission, deleted, lists, tags, fields) -> dict:
    first, first_ascii = rng.choice(FIRST_NAMES)
    last, last_ascii = rng.choice(LAST_NAMES)
    created = TIME_ORIGIN.replace(tzinfo=UTC) + timedelta(seconds=rng.randrange(TIME_SPAN_SECONDS))
    updated = created + timedelta(days=rng.randrange(0, 300))
    city, region, zip_code, area, *_ = rng.choice(CITIES)
    email = {
        "address": f"{first_ascii}.{last_ascii}.{index}@{rng.choice(DOMAINS)}",
        "permission_to_send": permission,
        "created_at": iso(created),
        "updated_at": iso(updated),
        "opt_in_source": "Contact",
        "opt_in_date": iso(created),
        "confirm_status": "confirmed" if permission == "explicit" else "off",
    }
    if permission == "unsubscribed":
        email.update(opt_out_source="Contact", opt_out_date=iso(updated), opt_out_reason="Too many emails")
    contact = {
        "contact_id": ids(),
        "email_address": email,
        "first_name": first,
        "last_name": last,
        "job_title": rng.choice(("", "Skipper", "Treasurer")),
        "company_name": rng.choice(("", "Bay Club", "Harbor Marine")),
        "create_source": "Account",
        "update_source": "Contact",
        "created_at": iso(created),
        "updated_at": iso(updated),
        "custom_fields": [
            {"custom_field_id": fields[0]["custom_field_id"], "value": rng.choice(BOATS)}
        ] if rng.random() < 0.5 else [],
        "phone_numbers": [
            {"phone_number_id": ids(), "phone_number": f"+1 {area} 555 {rng.randrange(10_000):04d}", "kind": kind}
            for kind in rng.sample(("home", "mobile", "work"), rng.randint(0, 2))
        ],
        "street_addresses": [
            {"street_address_id": ids(), "kind": "home", "street": f"{rng.randint(1, 999)} {rng.choice(STREETS)}",
             "city": city, "state": region, "postal_code": zip_code, "country": "United States"}
        ] if rng.random() < 0.6 else [],
        "list_memberships": [] if deleted else [entry["list_id"] for entry in rng.sample(lists, rng.randint(1, 2))],
        "taggings": [entry["tag_id"] for entry in rng.sample(tags, rng.randint(0, 2))],
        "notes": [],
    }  # fmt: skip
    if rng.random() < 0.3:
        contact["birthday_month"], contact["birthday_day"] = rng.randint(1, 12), rng.randint(1, 28)
    if deleted:
        contact["deleted_at"] = iso(updated)
    return contact
