"""``python src/api_server.py [key=value ...]``: run the API with uvicorn.

Owns the terminal the way hpopt.cli does: settings errors are one line and exit 2;
logs go to stderr through a filter that masks keys and tokens. Binds the socket itself so
``port=0`` works and the line ``hpopt API listening on http://HOST:PORT`` names the port.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Optional

from hpopt import __version__
from hpopt.api.settings import ApiSettings, SettingsError, load_settings

__all__ = ["main", "render_help"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
logger = logging.getLogger("hpopt.api.cli")


def render_help() -> str:
    lines = ["usage: python src/api_server.py [key=value ...]", "",
             "Serves the hpopt REST API (docs at /docs). Every key can also be set as HYPEROPT_<KEY>",
             "in the environment or .env; the command line wins. HYPEROPT_API_KEY (environment only)",
             "requires that key on every route but /health. Job defaults come from the same",
             "HYPEROPT_* variables the CLI reads.", "", "keys:"]
    width = max(len(name) for name in ApiSettings.model_fields)
    for name, info in ApiSettings.model_fields.items():
        if name == "api_key":
            continue
        default = info.default if not isinstance(info.default, tuple) else ",".join(info.default) or "none"
        lines.append(f"  {name:<{width}} default {default!s:<24} {info.description}")
    return "\n".join(lines)


def _configure_logging(settings: ApiSettings) -> None:
    from hpopt.api.security import RedactingFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(settings.api_key.get_secret_value() if settings.api_key else None))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.server_log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def _bind(settings: ApiSettings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    sock.set_inheritable(True)
    return sock


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        print(render_help())
        return EXIT_OK
    if "--version" in argv:
        print(f"hpopt {__version__}")
        return EXIT_OK
    try:
        settings = load_settings(argv)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _configure_logging(settings)
    import uvicorn

    from hpopt.api.app import create_app

    try:
        sock = _bind(settings)
    except OSError as exc:
        print(f"error: cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    if settings.api_key is None and host not in ("127.0.0.1", "::1", "localhost"):
        logger.warning("listening on %s without an API key: anyone who reaches it can start jobs; "
                       "set HYPEROPT_API_KEY", host)
    config = uvicorn.Config(create_app(settings), log_config=None, access_log=False, lifespan="on",
                            timeout_graceful_shutdown=5, server_header=False)
    server = uvicorn.Server(config)
    # Printed whatever the log level: scripts (and port=0 users) read the address from it.
    print(f"hpopt API listening on http://{shown}:{port} (docs: /docs, results: {settings.results_path})",
          file=sys.stderr, flush=True)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it already handled by shutting down cleanly
        pass
    return EXIT_OK
