"""The job system behind the API: a store of job records, one OS process per running job
(hpopt.jobs.job_process runs exactly what the CLI runs), its event log and live state, and the
manager and supervisor that queue, start, watch and stop them. No HTTP here (hpopt.api is the
HTTP layer) and no TensorFlow in the server's process."""
