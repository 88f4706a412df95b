"""The terminal client of hpopt's API server (``optimize_runpod.py`` at the repository root).

It talks to a server over HTTP and a WebSocket only, so it imports httpx, websockets and tqdm
and nothing that trains or stores studies: no TensorFlow, Keras or Optuna, and nothing else of
hpopt (`.importlinter` checks it), which keeps ``optimize_runpod.py --help`` instant.

Modules: urls (the scheme rule), errors (exit statuses), debug_log (--debug), server_api (the
HTTP calls), jobs (start, list, pick a job), prompts (--ask), progress (the bar and trial
lines), follow (WebSocket, then polling), download (the results ZIP), cli (arguments, main).
"""
