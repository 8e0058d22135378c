"""One HubSpot property group per source format when a run mixes sources.

``write_plan`` names one group (``plan["property_group"]``, what the load has always read). A
run over, say, a Mailchimp zip and a Salesforce CSV plans custom properties in both the
``mailchimp`` and the ``salesforce`` group, so the plan also lists every group it uses in
``plan["property_groups"]``; the load creates each before the properties. Onramp's own
properties (the contact's provenance) are in the ``onramp`` group, so a plan that imports
contacts always lists it.
"""

from __future__ import annotations

from collections.abc import Sequence

from tasks.import_files import ONRAMP_PROPERTY_GROUP, write_plan_file
from tasks.output import OutputFolder
from tasks.transform.profile import SourceProfile


def add_property_groups(plan: dict, profiles: Sequence[SourceProfile], out: OutputFolder) -> dict:
    """Add ``property_groups`` (every group a planned property uses) and rewrite ``plan.json``.

    Args:
        plan: The plan ``write_plan`` wrote.
        profiles: The run's profiles, for each group's label.
        out: The run's output folder.

    Returns:
        The plan, unchanged when its properties use no group but ``property_group``.
    """
    labels = {p.group_name: p.group_label for p in profiles} | {ONRAMP_PROPERTY_GROUP["name"]: ONRAMP_PROPERTY_GROUP["label"]}
    first = plan.get("property_group")
    if first:
        labels.setdefault(first["name"], first["label"])
    used = dict.fromkeys(prop["groupName"] for prop in plan.get("properties", []))
    if first is None or not used.keys() - {first["name"]}:
        return plan
    groups = [first] + [{"name": name, "label": labels.get(name, name)} for name in used if name != first["name"]]
    plan = {**plan, "property_groups": groups}
    write_plan_file(plan, out)
    return plan
