"""The emulated Mailchimp account's settings: its API key, its audience and its limits."""

from __future__ import annotations

from dataclasses import dataclass, field

STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived")
"""Every member status the Marketing API knows."""

INTEREST_CATEGORIES = (
    {"id": "c1a2b3", "title": "Interests", "type": "checkboxes", "display_order": 0,
     "interests": (("i1a001", "Gardening"), ("i1a002", "Cooking"), ("i1a003", "Travel"))},
    {"id": "c2d4e6", "title": "Newsletter Frequency", "type": "radio", "display_order": 1,
     "interests": (("i2b001", "Weekly"), ("i2b002", "Monthly"))},
)  # fmt: skip
"""The audience's group categories and their groups (``(id, name)`` in display order), as
``GET /lists/{id}/interest-categories`` and ``…/{category_id}/interests`` list them."""

MAX_COUNT = 1000
"""The Marketing API's largest page (``count``)."""
DEFAULT_COUNT = 10


@dataclass
class MailchimpSettings:
    """How the emulated account behaves.

    Attributes:
        api_key: The key clients must send (any username, the key as password; or Bearer).
        list_id: The one audience's id.
        members: How many members the audience is seeded with.
        seed: Seed of the generated members (same seed, same members).
        status_shares: Share of each status among the seeded members.
        max_connections: Requests served at once before 429 (Mailchimp: 10 per user).
        bare_403_beyond_limit: Answer a request beyond the limit with a 403 and no body, as
            Mailchimp sometimes does, instead of the 429.
        response_delay: Seconds each request takes (a remote API's latency), so
            tests see requests overlap and hold connections open.
        failing_offsets: Member-page offsets answered 503 every time: a read that cannot finish.
        cut_short_offsets: Member-page offset → how many times its answer is a 200 whose JSON
            body is cut in half (a connection dropped mid-answer, a proxy's page), before it is
            served whole.
        removals: Members permanently deleted mid-read, as an admin might: each
            ``(offset, index, count)`` deletes ``count`` members from position ``index`` just
            after the member page at ``offset`` is served, once; they apply in turn, each at
            the next serving of its offset (three ``(0, 10, 5)`` delete during three reads).
        interest_categories: The audience's group categories (``INTEREST_CATEGORIES``' shape);
            the seeded members are each in some of their groups (``()``: an audience without
            groups).
        extra_merge_fields: Merge fields the audience has beside ``audience.MERGE_FIELDS``
            (``{"merge_id", "tag", "name", "type"}``), as an account's own (``Do Not Email``);
            the seeded members' cells of them are empty.
    """

    api_key: str = "0123456789abcdef0123456789abcdef-us6"
    list_id: str = "a1b2c3d4e5"
    members: int = 2500
    seed: int = 7
    status_shares: dict[str, float] = field(
        default_factory=lambda: {
            "subscribed": 0.6, "unsubscribed": 0.12, "cleaned": 0.08,
            "pending": 0.06, "transactional": 0.1, "archived": 0.04,
        }
    )  # fmt: skip
    max_connections: int = 10
    bare_403_beyond_limit: bool = False
    response_delay: float = 0.0
    failing_offsets: frozenset[int] = frozenset()
    cut_short_offsets: dict[int, int] = field(default_factory=dict)
    removals: list[tuple[int, int, int]] = field(default_factory=list)
    interest_categories: tuple[dict, ...] = INTEREST_CATEGORIES
    extra_merge_fields: tuple[dict, ...] = ()
