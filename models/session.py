"""The one place that creates onnxruntime sessions and decides their threads."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import onnxruntime as ort


@functools.cache
def make_session(path: Path, threads: int) -> ort.InferenceSession:
    """A CPU session with ``threads`` intra-op threads; one per model per process.

    Keep ``threads`` x Dask worker processes <= cores (Settings checks it): oversubscribed
    sessions run slower, not faster.
    """
    cv2.setNumThreads(threads)  # OpenCV's own pool counts against the same cores
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
