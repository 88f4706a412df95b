"""The installed ``hpopt`` command (entry.cli): one name for run, serve and predict."""
