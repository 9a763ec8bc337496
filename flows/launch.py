"""``python -m flows.launch``: the only command facelead's work pool runs.

The worker starts it for every flow run (the pool's base job template fixes the command,
its environment and folder; no job variable can change them). Before any of the run's
code is loaded it asks ``console.run_refusal`` whether the run is one of a deployment
facelead registers, unchanged; a run that is not is failed and audited, and nothing of it
runs. Otherwise Prefect's engine runs the flow in this process.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.states import Failed

from facelead import grants
from facelead.console import run_refusal
from facelead.settings import current_settings
from facelead.workflow import record_refusal

PROJECT = Path(__file__).resolve().parents[1]  # the folder whose flows/ facelead's deployments name
UNNAMED = "prefect-api"  # who a refused run is audited as when it names no person


def main() -> int:
    flow_run_id = UUID(os.environ["PREFECT__FLOW_RUN_ID"])
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
        deployment = (client.read_deployment(run.deployment_id).model_dump(mode="json")
                      if run.deployment_id else None)
        refusal = run_refusal(deployment, run.job_variables, str(PROJECT))
        if refusal is not None:
            grant = (run.parameters or {}).get("grant")
            actor = (grants.claimed_user(grant) if isinstance(grant, str) else "") or UNNAMED
            target = f"deployment:{(deployment or {}).get('name', 'none')}"
            record_refusal(current_settings().database_path, actor, "flow_run", target, refusal)
            client.set_flow_run_state(flow_run_id, Failed(message=f"refused by facelead: {refusal.detail}"), force=True)
            print(f"facelead: flow run {flow_run_id} refused: {refusal.detail}", file=sys.stderr, flush=True)
            return 1
    sys.argv = [sys.argv[0]]
    runpy.run_module("prefect.engine", run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
