"""The emulated audience: seeded members shaped as the Marketing API returns them, and queries."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from benchmarks.fake_people import (
    CITIES,
    DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    STREETS,
    TAG_NAMES,
    TIME_ORIGIN,
    TIME_SPAN_SECONDS,
)
from emulators.mailchimp.settings import STATUSES, MailchimpSettings

MERGE_FIELDS = (
    {"merge_id": 1, "tag": "FNAME", "name": "First Name", "type": "text"},
    {"merge_id": 2, "tag": "LNAME", "name": "Last Name", "type": "text"},
    {"merge_id": 3, "tag": "ADDRESS", "name": "Address", "type": "address"},
    {"merge_id": 4, "tag": "PHONE", "name": "Phone Number", "type": "phone"},
    {"merge_id": 5, "tag": "BIRTHDAY", "name": "Birthday", "type": "birthday"},
    {"merge_id": 6, "tag": "COMPANY", "name": "Company", "type": "text"},
)
"""The audience's merge fields, as ``GET /lists/{id}/merge-fields`` lists them."""

GROUP_RATE = 0.5
"""Share of members in each checkbox group; a radio category's member is in one group or none."""

BLANK_RATE = 0.2
TAGS_RATE = 0.4


def iso(moment: datetime) -> str:
    """A time as the Marketing API writes it: ``2022-02-23T19:31:52+00:00``."""
    return moment.replace(microsecond=0).isoformat()


@dataclass
class Audience:
    """One audience's members, in the order the API pages through them."""

    list_id: str
    members: list[dict]

    @classmethod
    def seeded(cls, settings: MailchimpSettings) -> Audience:
        """Members generated from the settings' seed, every status in its share."""
        rng = random.Random(settings.seed)
        statuses = rng.choices(
            list(settings.status_shares), weights=list(settings.status_shares.values()), k=settings.members
        )
        members = [_member(rng, index, status, settings.list_id) for index, status in enumerate(statuses)]
        # Groups from a generator of their own: the members' other fields stay those of the seed.
        groups = random.Random(f"{settings.seed}-interests")
        for member in members:
            member["interests"] = _interests(groups, settings.interest_categories)
        for member in members:
            member["merge_fields"].update((extra["tag"], "") for extra in settings.extra_merge_fields)
        return cls(settings.list_id, members)

    def select(self, status: str | None, since_last_changed: datetime | None) -> list[dict]:
        """The members a listing filters to.

        Args:
            status: One of ``STATUSES``, or None for all.
            since_last_changed: Only members changed after this time.
        """
        if status is None and since_last_changed is None:
            return self.members  # every page of a full read would otherwise copy the audience
        return [
            member
            for member in self.members
            if (status is None or member["status"] == status)
            and (since_last_changed is None or datetime.fromisoformat(member["last_changed"]) > since_last_changed)
        ]

    def touch(self, count: int, moment: datetime, status: str | None = None) -> list[str]:
        """Change the first ``count`` members at ``moment`` (optionally to a new status), as an
        incremental run would find them.

        Returns:
            The changed members' email addresses.
        """
        changed = self.members[:count]
        for member in changed:
            member["last_changed"] = iso(moment)
            if status is not None:
                member["status"] = status
        return [member["email_address"] for member in changed]

    def truth(self) -> dict[str, int]:
        """How many members have each status."""
        counts = dict.fromkeys(STATUSES, 0)
        for member in self.members:
            counts[member["status"]] += 1
        return counts


def _interests(rng: random.Random, categories: tuple[dict, ...]) -> dict[str, bool]:
    """A member's ``interests``: every group of the audience's ``categories``, ``True`` for those
    the member is in (a radio category's member is in at most one)."""
    chosen: dict[str, bool] = {}
    for category in categories:
        ids = [group_id for group_id, _ in category["interests"]]
        if category["type"] == "radio":
            picked = rng.choice([*ids, None])
            chosen.update((group_id, group_id == picked) for group_id in ids)
        else:
            chosen.update((group_id, rng.random() < GROUP_RATE) for group_id in ids)
    return chosen


def _member(rng: random.Random, index: int, status: str, list_id: str) -> dict:
    first, first_ascii = rng.choice(FIRST_NAMES)
    last, last_ascii = rng.choice(LAST_NAMES)
    email = f"{first_ascii}.{last_ascii}.{index}@{rng.choice(DOMAINS)}"
    city, region, zip_code, area, gmtoff, dstoff, timezone, latitude, longitude = rng.choice(CITIES)
    changed = TIME_ORIGIN.replace(tzinfo=UTC) + timedelta(seconds=rng.randrange(TIME_SPAN_SECONDS))
    opted = changed - timedelta(days=rng.randrange(1, 400))
    tags = rng.sample(TAG_NAMES, rng.randint(1, 3)) if rng.random() < TAGS_RATE else []
    address = (
        {"addr1": f"{rng.randint(1, 999)} {rng.choice(STREETS)}", "addr2": "", "city": city,
         "state": region, "zip": zip_code, "country": "US"}
        if rng.random() >= BLANK_RATE else ""
    )  # fmt: skip
    member = {
        "id": hashlib.md5(email.encode()).hexdigest(),
        "email_address": email,
        "unique_email_id": f"{rng.getrandbits(40):010x}",
        "contact_id": hashlib.sha1(email.encode()).hexdigest()[:32],
        "full_name": f"{first} {last}",
        "web_id": 100_000_000 + index,
        "email_type": "html",
        "status": status,
        "merge_fields": {
            "FNAME": first,
            "LNAME": last if rng.random() >= BLANK_RATE else "",
            "ADDRESS": address,
            "PHONE": f"({area}) 555-{rng.randrange(10_000):04d}" if rng.random() >= BLANK_RATE else "",
            "BIRTHDAY": f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}" if rng.random() >= BLANK_RATE else "",
            "COMPANY": "",
        },
        "ip_signup": "",
        "timestamp_signup": "",
        "ip_opt": f"198.51.100.{rng.randrange(1, 255)}",
        "timestamp_opt": iso(opted),
        "member_rating": rng.randint(1, 5),
        "last_changed": iso(changed),
        "language": "",
        "vip": False,
        "email_client": "",
        "location": {
            "latitude": float(latitude), "longitude": float(longitude), "gmtoff": int(gmtoff),
            "dstoff": int(dstoff), "country_code": "US", "timezone": timezone, "region": region,
        },
        "source": "API - Generic",
        "tags_count": len(tags),
        "tags": [{"id": TAG_NAMES.index(name) + 1, "name": name} for name in tags],
        "list_id": list_id,
    }  # fmt: skip
    if status == "unsubscribed":
        member["unsubscribe_reason"] = "N/A (Unsubscribed by an admin)"
    return member
