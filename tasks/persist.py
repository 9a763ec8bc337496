"""The flows' units of work (``facelead.steps``) as Prefect task runs: each retried only
when the database was locked by another process. Called in the flow process, the only
DuckDB writer of a run."""

from __future__ import annotations

from collections.abc import Callable

from prefect import Task, task
from prefect.cache_policies import NONE

from facelead.steps import audit, enrollment, gallery, is_transient, reports, searching


def retry_if_transient(task, task_run, state) -> bool:
    """Retry only what may succeed next time: a database locked by another process."""
    try:
        state.result()
    except Exception as exc:
        return is_transient(exc)
    return False


DB_TASK = {"cache_policy": NONE, "retries": 3, "retry_delay_seconds": [1, 5, 15], "retry_condition_fn": retry_if_transient}



def db_tasks(*units: Callable) -> tuple[Task, ...]:
    """Each unit of work as a task run under ``DB_TASK``, named as its function."""
    return tuple(task(**DB_TASK)(unit) for unit in units)


start_enrollment, persist_batch, finish_enrollment, record_subject_attributes = db_tasks(
    enrollment.start_enrollment, enrollment.persist_batch, enrollment.finish_enrollment,
    enrollment.record_subject_attributes)
load_gallery, index_status, record_build, record_evaluation = db_tasks(
    gallery.load_gallery, gallery.index_status, gallery.record_build, gallery.record_evaluation)
search_record, record_search, record_event = db_tasks(searching.search_record, searching.record_search, audit.record_event)
oversight_rows, purge_warehouse = db_tasks(reports.oversight_rows, reports.purge_warehouse)
