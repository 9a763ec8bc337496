"""What enrollment and evaluation take in and hand on: image references read from manifests and
folders, hashed (``inputs``), and the Arrow tables of a batch's faces and refusals (``batches``)."""
