"""The server URL rule: RunPod shows its proxy URLs without a scheme, so the client adds one.

Kept apart so the rule (and the hint every "wrong URL" error ends with) lives in one place.
"""

from __future__ import annotations

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")
URL_HINT = ("check the URL (RunPod's is https://<pod id>-8000.proxy.runpod.net, under Connect > HTTP Service) "
            "and that the pod and `python src/api_server.py` are running")


def normalize_url(url: str) -> tuple[str, bool]:
    """The URL with a scheme, and whether one was added: RunPod shows its proxy URLs without one.

    Loopback hosts get http:// (a local server has no TLS), everything else https://.
    """
    url = url.strip()
    if "://" in url:
        return url.rstrip("/"), False
    hostport, sep, rest = url.partition("/")
    if hostport.startswith("["):
        host = hostport[1:].partition("]")[0]
    elif hostport.count(":") > 1:  # a bare IPv6 address such as ::1
        host, hostport = hostport, f"[{hostport}]"
    else:
        host = hostport.partition(":")[0]
    host = host.lower()
    scheme = "http" if host in LOCAL_HOSTS or host.startswith("127.") else "https"
    return f"{scheme}://{hostport}{sep}{rest}".rstrip("/"), True


def websocket_url(base_url: str, path: str) -> str:
    """The ws:// (or wss:// for https) URL of a path on the server at base_url."""
    scheme = "wss" if base_url.startswith("https") else "ws"
    return f"{scheme}://{base_url.split('://', 1)[1]}{path}"
