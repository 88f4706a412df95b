"""Names of the files in a job's folder, shared by the server (which must stay free of TensorFlow)
and the job process that writes them (hpopt.jobs.job_process)."""

from hpopt.jobs.event_log import EVENTS_FILE

CONFIG_FILE = "config.json"  # the job's validated settings, written by the server
LOCK_FILE = "job.lock"  # held by the job process while it runs: its liveness
LOG_FILE = "job.log"  # the job process's log

__all__ = ["CONFIG_FILE", "EVENTS_FILE", "LOCK_FILE", "LOG_FILE", "NOTIFY_FILE"]
NOTIFY_FILE = "notify.json"  # notify_url unmasked (config.json masks it) and the job's URL; mode 0600
