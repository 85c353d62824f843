"""Ray token authentication for the node's processes: which token, decided before Ray is imported.

Every process of one Ray cluster must present the same token, and Ray reads its auth settings
when it is imported, so the CLI calls `configure_ray_auth` first thing in `up` and `bench node`:

- a node on a local Ray instance keeps its token in `<data_dir>/keys/ray_auth_token` (created on
  first start), so `aurigraph bench node --address … --data-dir …` can attach to it;
- with `--address`, the token comes from $RAY_AUTH_TOKEN or $RAY_AUTH_TOKEN_PATH when set, else
  from the data dir's token file when it exists, else from Ray's default `~/.ray/auth_token` (where
  `ray get-auth-token --generate` and cluster.yaml put it).
"""

from __future__ import annotations

import os
import secrets
import sys

from aurigraph.node.datadir import DataDir


def configure_ray_auth(data: DataDir, local: bool) -> None:
    if "ray" in sys.modules:
        raise RuntimeError("configure_ray_auth must run before Ray is imported")
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return
    path = data.ray_token
    if local and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    if path.exists():
        os.environ["RAY_AUTH_TOKEN_PATH"] = str(path)
