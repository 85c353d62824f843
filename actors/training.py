"""The retraining Ray task: `models.retrain.retrain` in a worker process of its own (TensorFlow is
loaded there, never in the node's actors), scheduled on one CPU of any node of the cluster.

The optimizer actor awaits it (`Optimizer.retrain`); its inputs and the artifact it returns are
NumPy arrays and bytes, which Ray moves through its object store.
"""

from __future__ import annotations

import ray


@ray.remote(num_cpus=1, max_retries=0)
def train_candidate(name: str, data: dict, serving_artifact: bytes | None, seed: int) -> dict:
    try:
        from models.retrain import retrain  # TensorFlow: only in this task's process
    except ImportError as e:
        raise RuntimeError(f"retraining needs TensorFlow on the Ray nodes (pip install 'aurigraph[ml]'): {e}") from None
    return retrain(name, data, serving_artifact, seed)
