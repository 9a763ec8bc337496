"""Prefect flows: wiring only (inputs -> mapped tasks -> persist).

A deployment names its flow by file (``flows/<file>.py:<flow>``), and Prefect loads that file
as the top-level module ``<file>``; a Dask scheduler or worker unpickles what a run sends
(its flow, in the run's context) by that name. This folder is therefore also on the end of
``sys.path`` of every process that imports this package (the service, its cluster's
scheduler and workers through their preload, the runs), behind every installed module.
"""

import sys
from pathlib import Path

import facelead  # noqa: F401  (first: it sets Prefect's and Great Expectations' defaults before they load)

FLOW_FILES = str(Path(__file__).resolve().parent)
if FLOW_FILES not in sys.path:
    sys.path.append(FLOW_FILES)
