"""The optimizer's models at serving time (NumPy only: `forward`, `predictor`, `anomaly`,
`features`, `controller`, `optimizer`, `registry`) and the data scientists' API (`api`,
re-exported here): list, retrain, promote and roll back models, read the anomaly log, and fetch
the feature dataset of a running node."""

from aurigraph.ml.api import (
    OptimizerUnavailable,
    anomalies,
    connect,
    dataset,
    export_dataset,
    list_models,
    promote,
    release,
    retrain,
    rollback,
    status,
)

__all__ = ["OptimizerUnavailable", "anomalies", "connect", "dataset", "export_dataset", "list_models", "promote",
           "release", "retrain", "rollback", "status"]
