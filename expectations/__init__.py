"""Great Expectations suites as code: the image-quality gate that gallery faces pass before
enrollment and probes before a search (``quality.py``), one suite per bar, versioned by
its limits."""

import facelead  # noqa: F401  (first: it sets Prefect's and Great Expectations' defaults before they load)
