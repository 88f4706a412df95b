"""One router per resource: meta (health, datasets, modes, objectives), optimize, jobs,
trials, files, stream; and dashboard, the web page at / (static files, no key needed)."""
