"""Great Expectations suites as code: the image-quality gate for gallery faces and probes.

Empty in this release: enrollment and search run without a quality gate yet.
"""
