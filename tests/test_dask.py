"""A grid search over nnkit estimators runs on a Dask cluster, with the serial results."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

import nnkit
from nnkit.sklearn import NNClassifier

distributed = pytest.importorskip("dask.distributed")

GRID = {"hidden_layer_sizes": [(16,), (64,)], "learning_rate": [0.001, 0.01]}


def search() -> GridSearchCV:
    return GridSearchCV(NNClassifier(epochs=30, random_state=0), GRID, cv=3, n_jobs=-1)


def test_grid_search_on_a_local_cluster_matches_the_serial_run():
    X, y = nnkit.datasets.load_digits()
    X, y = X[:600], y[:600]
    serial = GridSearchCV(NNClassifier(epochs=30, random_state=0), GRID, cv=3).fit(X, y)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with distributed.get_task_stream(client) as stream, joblib.parallel_backend("dask"):
            on_dask = search().fit(X, y)
        # The 12 fits (4 settings x 3 folds) ran as tasks on the cluster's workers.
        workers = {task["worker"] for task in stream.data}
        assert len(stream.data) >= 12 and workers <= set(client.scheduler_info()["workers"])
    assert np.array_equal(
        on_dask.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert on_dask.best_params_ == serial.best_params_
    assert np.array_equal(on_dask.predict(X), serial.predict(X))
