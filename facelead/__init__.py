"""facelead: self-hosted investigative face search.

A search returns ranked investigative leads from an agency-controlled gallery. A lead is
never a positive identification and never probable cause.
"""

__version__ = "0.1.0"

LEAD_NOTICE = "Investigative lead only - not a positive identification and not probable cause"
