"""hpopt.masking: one rule for every writer; the job process gets the operator's real values back."""

from __future__ import annotations

import logging

from hpopt.config import load_config
from hpopt.gpu_proxy.endpoint import Endpoint
from hpopt.jobs.operator_settings import with_operator_settings
from hpopt.masking import MaskingFormatter, mask_url, masked_config


def test_mask_url_and_masked_config():
    assert mask_url("postgresql://user:pw@host/db") == "postgresql://user:***@host/db"
    assert mask_url("postgresql+psycopg://u:p@ss@host:5432/db") == "postgresql+psycopg://u:***@host:5432/db"
    assert mask_url("https://ghp_token@github.com/o/r.git") == "https://***@github.com/o/r.git"
    for plain in ("sqlite:////tmp/x.db", "postgresql://user@host/db", "ssh://git@github.com/o/r", "digits"):
        assert mask_url(plain) == plain
    masked = masked_config({"storage": "mysql://a:b@c/d", "api_key": "k", "nested": {"auth_token": 1}, "trials": 3,
                            "password": None})
    assert masked == {"storage": "mysql://a:***@c/d", "api_key": "***", "nested": {"auth_token": "***"},
                      "trials": 3, "password": None}
    record = logging.LogRecord("x", logging.ERROR, "f", 1, "cannot open %s", ("postgresql://u:pw@h/db",), None)
    assert MaskingFormatter("%(message)s").format(record) == "cannot open postgresql://u:***@h/db"


def test_config_is_masked_when_written_and_restored_for_the_job():
    environ = {"HYPEROPT_STORAGE": "postgresql://u:pw@h/db", "HYPEROPT_GPU_PROXY_ENDPOINT": "https://t@proxy.test/x"}
    config = load_config({"trials": "1"}, environ=environ, env_file=None)
    data = config.to_dict()
    assert data["storage"] == "postgresql://u:***@h/db" and data["gpu_proxy_endpoint"] == "https://***@proxy.test/x"
    assert config.to_dict(reveal_secrets=True)["storage"] == "postgresql://u:pw@h/db"
    stored = type(config).model_validate(data)  # what the job's config.json holds
    restored = with_operator_settings(stored, environ, env_file=None)
    assert restored.storage == "postgresql://u:pw@h/db" and restored.gpu_proxy_endpoint == "https://t@proxy.test/x"
    assert restored.trials == 1


def test_runpod_host_is_the_host_not_a_prefix():
    assert Endpoint("https://api.runpod.ai/v2/abc", "RUNPOD_ENDPOINT_ID").is_runpod
    assert not Endpoint("https://api.runpod.ai.evil.test/v2/abc", "gpu_proxy_endpoint").is_runpod
    assert not Endpoint("http://api.runpod.ai/v2/abc", "gpu_proxy_endpoint").is_runpod
