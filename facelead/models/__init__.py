"""Face models: manifests, preparation, onnxruntime sessions, detection, alignment,
embedding and nearest-neighbour search. No Prefect imports here."""
