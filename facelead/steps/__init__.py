"""The flows' units of work: each opens the warehouse once, reads typed records, asks the
rules core (``casework``), writes and audits, and commits once. Prefect's tasks wrap them
(``tasks.persist``); nothing above this package opens the warehouse for a flow."""

from warehouse.sql import is_transient

__all__ = ["is_transient"]
