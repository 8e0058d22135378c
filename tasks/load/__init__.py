"""The load into HubSpot: properties, opt-outs and imports of a plan directory.

Plain functions do the work and Prefect tasks wrap them one to one (``..._task``), so a flow can
run a step per file and tests can call the functions without a Prefect engine.
"""

from tasks.load.client import HubSpotPortal, resolve_token
from tasks.load.imports import import_contacts_file, import_contacts_file_task, import_contacts_files
from tasks.load.optouts import apply_opt_out_file, apply_opt_out_file_task, apply_opt_outs
from tasks.load.plan import LoadPlan, read_plan
from tasks.load.properties import ensure_properties, ensure_properties_task
from tasks.load.run import load_plan, load_steps

__all__ = [
    "HubSpotPortal",
    "LoadPlan",
    "apply_opt_out_file",
    "apply_opt_out_file_task",
    "apply_opt_outs",
    "ensure_properties",
    "ensure_properties_task",
    "import_contacts_file",
    "import_contacts_file_task",
    "import_contacts_files",
    "load_plan",
    "load_steps",
    "read_plan",
    "resolve_token",
]
