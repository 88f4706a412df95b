"""One router per resource: meta (health, datasets, modes, objectives), optimize, jobs,
trials, files, stream."""
