"""Errors of the GPU proxy client, sorted by what the run should do about them.

- ``GpuProxyUnavailable``: the endpoint cannot be used (unreachable, failing after retries,
  misconfigured, payload too large). The executor falls back to local training when
  gpu_proxy_fallback_local is true, else raises ``GpuProxyRunStopped``.
- ``GpuProxyRunStopped``: ends the run (``stops_run``); the CLI prints its message and exits
  with ``exit_code``.
- ``RemoteTrialError``: the endpoint works but this trial crashed there (e.g. out of GPU
  memory): the trial fails, the study goes on, as a crashing local trial would.
"""

from __future__ import annotations


class GpuProxyError(RuntimeError):
    """Base class of every GPU proxy error; messages never contain the API key."""

    exit_code = 1


class GpuProxyUnavailable(GpuProxyError):
    """The endpoint cannot run trials now; ``str()`` says what failed and what to do."""


class PayloadTooLarge(GpuProxyUnavailable):
    """A request is over the endpoint's size limit: sending it again will not help."""


class GpuProxyRunStopped(GpuProxyError):
    """The GPU proxy failed and gpu_proxy_fallback_local is false: stop the run."""

    stops_run = True


class GpuBudgetReached(GpuProxyError):
    """The next remote trial would pass gpu_budget_usd and may not train locally: it is not run
    (``gives_way``: the trial is dropped untrained) and the run ends after the trials in flight."""

    gives_way = True


class RemoteTrialError(GpuProxyError):
    """The worker ran the trial and it crashed there; only this trial fails."""


# Said whenever an endpoint answers outside hpopt's protocol: the likely cause is an endpoint
# deployed from the original system's worker (it executes code it is sent; hpopt never sends code).
FOREIGN_WORKER_HINT = ("does the endpoint run hpopt's GPU worker? One deployed from the original system's "
                       "execute-code worker answers this way: deploy hpopt's own worker, gpu-proxy/Dockerfile from "
                       "this repository (see gpu-proxy/README.md)")
