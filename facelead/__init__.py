"""facelead: self-hosted investigative face search.

A search returns ranked investigative leads from an agency-controlled gallery. A lead is
never a positive identification and never probable cause.
"""

__version__ = "0.1.0"

LEAD_NOTICE = "Investigative lead only - not a positive identification and not probable cause"

# Prefect and Great Expectations must never phone home, and Prefect's in-process server
# needs time on a small machine. Set before either is imported; an operator's own
# environment wins.
import os as _os

for _name, _value in {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "facelead,warehouse,flows",  # waits on a locked database show in the run's log
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",  # and outside a run, only locally
}.items():
    _os.environ.setdefault(_name, _value)
