"""Face models: manifests, preparation, onnxruntime sessions, detection, alignment,
embedding and nearest-neighbour search. No Prefect imports here."""

import facelead  # noqa: F401  (first: it sets Prefect's and Great Expectations' defaults before they load)
