"""Callbacks: early stopping, terminate on NaN, learning-rate schedules, custom callbacks."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnkit

X_ALL, Y_ALL = nnkit.datasets.load_digits()


class Snapshots(nnkit.Callback):
    """Keeps a copy of the weights after every epoch."""

    def on_train_begin(self):
        self.weights = {}

    def on_epoch_end(self, epoch, logs):
        self.weights[epoch] = self.network.store.values.copy()


def overfitting_network():
    return nnkit.Network(
        [nnkit.Dense(128, activation="relu"), nnkit.Dense(10, activation="softmax")],
        loss="cross_entropy",
        optimizer=nnkit.optimizer("adam", learning_rate=0.01),
        seed=0,
    )


def test_early_stopping_stops_after_patience_and_restores_the_best_epoch_exactly():
    # 60 training samples and 0.01 learning rate: validation loss bottoms out, then rises.
    stopper = nnkit.callback("early_stopping", monitor="val_loss", patience=3)
    snapshots = Snapshots()
    net = overfitting_network()
    history = net.fit(
        X_ALL[:60],
        Y_ALL[:60],
        epochs=200,
        validation_data=(X_ALL[1000:1400], Y_ALL[1000:1400]),
        callbacks=[snapshots, stopper],
        verbose=0,
    )
    val = history.history["val_loss"]
    best = int(np.argmin(val)) + 1
    assert stopper.best_epoch == best
    assert stopper.stopped_epoch == best + 3 == len(history) < 200
    np.testing.assert_array_equal(net.store.values, snapshots.weights[best])
    assert not np.array_equal(net.store.values, snapshots.weights[len(history)])
    assert net.evaluate(X_ALL[1000:1400], Y_ALL[1000:1400])["loss"] == pytest.approx(
        min(val), rel=1e-5
    )


def test_early_stopping_on_a_rising_quantity_and_min_delta():
    stopper = nnkit.callback("early_stopping", monitor="val_accuracy", patience=2, min_delta=0.5)
    history = overfitting_network().fit(
        X_ALL[:300], Y_ALL[:300], epochs=50, validation_split=0.3, callbacks=[stopper], verbose=0
    )
    # No epoch improves accuracy by 0.5 on the first, so it stops after 1 + patience epochs.
    assert len(history) == 3 and stopper.best_epoch == 1


def test_early_stopping_without_restoring_keeps_the_last_weights():
    stopper = nnkit.callback(
        "early_stopping", monitor="loss", patience=0, min_delta=10.0, restore_best_weights=False
    )
    snapshots = Snapshots()
    net = overfitting_network()
    net.fit(X_ALL[:100], Y_ALL[:100], epochs=10, callbacks=[snapshots, stopper], verbose=0)
    assert stopper.stopped_epoch == 2
    np.testing.assert_array_equal(net.store.values, snapshots.weights[2])


def test_unknown_monitored_quantities_fail_before_training():
    net = overfitting_network()
    with pytest.raises(
        nnkit.ConfigurationError,
        match="monitors 'val_loss', which this training run does not log .*validation_split",
    ):
        net.fit(X_ALL[:50], Y_ALL[:50], callbacks=["early_stopping"], verbose=0)
    with pytest.raises(
        nnkit.ConfigurationError,
        match="'val_acuracy'.*it logs: loss, accuracy, val_loss, val_accuracy",
    ):
        net.fit(
            X_ALL[:50],
            Y_ALL[:50],
            validation_split=0.2,
            verbose=0,
            callbacks=[nnkit.callback("early_stopping", monitor="val_acuracy")],
        )
    plateau = nnkit.callback("lr_schedule", schedule=nnkit.schedule("plateau", monitor="val_mae"))
    with pytest.raises(nnkit.ConfigurationError, match="monitors 'val_mae'"):
        net.fit(X_ALL[:50], Y_ALL[:50], callbacks=[plateau], verbose=0)
    assert net.history is None


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: nnkit.callback("early_stopping", patience=-1), "patience must be an integer >= 0"),
        (
            lambda: nnkit.callback("early_stopping", mode="up"),
            "mode must be 'auto', 'min' or 'max'",
        ),
        (
            lambda: nnkit.callback("early_stopping", min_delta=-0.1),
            "min_delta must be a finite number >= 0",
        ),
        (
            lambda: nnkit.callback("lr_schedule", schedule="cosin"),
            "schedule .cosin. is not registered. Did you mean .cosine.",
        ),
        (lambda: nnkit.schedule("step", step_size=0), "step_size must be a positive integer"),
        (lambda: nnkit.schedule("step", factor=2), r"factor must be in \(0, 1\]"),
        (lambda: nnkit.schedule("exponential", decay_rate=0), "decay_rate must be in"),
        (
            lambda: nnkit.schedule("cosine", decay_epochs=0),
            "decay_epochs must be a positive integer",
        ),
        (lambda: nnkit.schedule("plateau", factor=1.0), r"factor must be in \(0, 1\)"),
        (lambda: nnkit.layer("dropout", rate=1.0), r"dropout rate must be in \[0, 1\)"),
        (lambda: nnkit.layer("dropout", rate=-0.1), r"dropout rate must be in \[0, 1\)"),
        (lambda: nnkit.optimizer("adamw", weight_decay=2), r"weight_decay must be in \[0, 1\)"),
        (lambda: nnkit.Dense(3, l2=-1), "l2 must be a finite number >= 0"),
        (lambda: nnkit.callback("terminate_on_nan", patience=1), "does not accept"),
    ],
)
def test_impossible_arguments_are_rejected(build, message):
    with pytest.raises((nnkit.ConfigurationError, nnkit.UnknownComponentError), match=message):
        build()


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
def test_terminate_on_nan_stops_a_diverging_run_and_says_where():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)) * 100
    y = X.sum(axis=1) * 100
    net = nnkit.Network(
        [nnkit.Dense(8, activation="relu"), nnkit.Dense(1)],
        loss="mse",
        optimizer=nnkit.optimizer("sgd", learning_rate=10.0),
        seed=0,
    )
    stopper = nnkit.callback("terminate_on_nan")
    with pytest.warns(RuntimeWarning, match=r"the loss became (nan|inf) at epoch 1, batch \d+"):
        history = net.fit(X, y, epochs=20, batch_size=4, callbacks=[stopper], verbose=0)
    assert len(history) == 1
    batch = int(stopper.message.split("batch ")[1].split(";")[0])
    assert 1 <= batch < 16  # stopped mid-epoch, right after the first non-finite batch


def test_learning_rate_follows_the_schedule_and_is_logged():
    schedules = {
        "constant": lambda t, base, total: base,
        "step": lambda t, base, total: base * 0.5 ** (t // 3),
        "exponential": lambda t, base, total: base * 0.9**t,
        "cosine": lambda t, base, total: base * (1 + math.cos(math.pi * t / total)) / 2,
    }
    arguments = {"step": {"step_size": 3, "factor": 0.5}, "exponential": {"decay_rate": 0.9}}
    for name, formula in schedules.items():
        net = overfitting_network()
        callback = nnkit.callback(
            "lr_schedule", schedule=nnkit.schedule(name, **arguments.get(name, {}))
        )
        history = net.fit(X_ALL[:64], Y_ALL[:64], epochs=8, callbacks=[callback], verbose=0)
        expected = [formula(t, 0.01, 8) for t in range(8)]
        np.testing.assert_allclose(
            history.history["learning_rate"], expected, rtol=1e-12, err_msg=name
        )


def test_plateau_reduces_the_rate_when_the_monitored_quantity_stalls():
    plateau = nnkit.schedule("plateau", monitor="loss", factor=0.5, patience=2, min_delta=100.0)
    # min_delta so large that no epoch counts as improving after the first.
    history = overfitting_network().fit(
        X_ALL[:64],
        Y_ALL[:64],
        epochs=6,
        callbacks=[nnkit.callback("lr_schedule", schedule=plateau)],
        verbose=0,
    )
    assert history.history["learning_rate"] == pytest.approx(
        [0.01, 0.01, 0.01, 0.005, 0.005, 0.0025]
    )


def test_schedule_changes_the_step_every_optimizer_takes():
    for name in ("sgd", "adam", "adamw"):
        a = nnkit.Network(
            [nnkit.Dense(10, activation="softmax")], loss="cross_entropy", optimizer=name, seed=0
        )
        b = nnkit.Network(
            [nnkit.Dense(10, activation="softmax")], loss="cross_entropy", optimizer=name, seed=0
        )
        a.fit(X_ALL[:64], Y_ALL[:64], epochs=2, verbose=0)
        b.fit(
            X_ALL[:64],
            Y_ALL[:64],
            epochs=2,
            verbose=0,
            callbacks=[
                nnkit.callback(
                    "lr_schedule", schedule=nnkit.schedule("step", step_size=1, factor=0.1)
                )
            ],
        )
        assert not np.allclose(a.store.values, b.store.values), name


def test_a_custom_callback_sees_every_hook_in_order_and_can_stop_training():
    class Recorder(nnkit.Callback):
        def __init__(self):
            self.calls = []

        def on_train_begin(self):
            self.calls.append("train_begin")

        def on_epoch_begin(self, epoch):
            self.calls.append(f"epoch_begin {epoch}")

        def on_batch_begin(self, batch):
            self.calls.append(f"batch_begin {batch}")

        def on_batch_end(self, batch, logs):
            self.calls.append(f"batch_end {batch}")
            assert math.isfinite(logs["loss"])

        def on_epoch_end(self, epoch, logs):
            self.calls.append(f"epoch_end {epoch}")
            if epoch == 2:
                self.network.stop_training = True

        def on_train_end(self, logs):
            self.calls.append("train_end")

    recorder = Recorder()
    history = overfitting_network().fit(
        X_ALL[:20], Y_ALL[:20], epochs=5, batch_size=10, callbacks=[recorder], verbose=0
    )
    assert recorder.calls == [
        "train_begin",
        "epoch_begin 1",
        "batch_begin 1",
        "batch_end 1",
        "batch_begin 2",
        "batch_end 2",
        "epoch_end 1",
        "epoch_begin 2",
        "batch_begin 1",
        "batch_end 1",
        "batch_begin 2",
        "batch_end 2",
        "epoch_end 2",
        "train_end",
    ]
    assert len(history) == 2
    assert recorder.context.steps_per_epoch == 2 and recorder.context.epochs == 5


@pytest.mark.parametrize("bad", [math.inf, math.nan])
@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda v: nnkit.schedule("step", factor=v), r"step schedule factor must be in \(0, 1\]"),
        (lambda v: nnkit.schedule("exponential", decay_rate=v), "decay_rate must be in"),
        (lambda v: nnkit.schedule("exponential", decay_epochs=v), "decay_epochs must be a finite"),
        (lambda v: nnkit.schedule("cosine", min_rate=v), "min_rate must be a finite number >= 0"),
        (lambda v: nnkit.schedule("plateau", min_delta=v), "min_delta must be a finite number"),
        (lambda v: nnkit.schedule("plateau", min_rate=v), "min_rate must be a finite number"),
        (lambda v: nnkit.schedule("plateau", factor=v), r"factor must be in \(0, 1\)"),
        (lambda v: nnkit.callback("early_stopping", min_delta=v), "min_delta must be a finite"),
    ],
)
def test_schedules_and_callbacks_refuse_nan_and_infinity(build, message, bad):
    with pytest.raises(nnkit.ConfigurationError, match=message):
        build(bad)
# -- reuse across fits -----------------------------------------------------------------


def test_a_reused_plateau_schedule_starts_afresh_in_every_fit():
    # It compounded its cuts: 0.01 became 0.0025 at the first epoch of the next fit.
    plateau = nnkit.schedule("plateau", monitor="loss", factor=0.5, patience=2, min_delta=100.0)
    callback = nnkit.callback("lr_schedule", schedule=plateau)
    net = overfitting_network()
    runs = [
        net.fit(X_ALL[:64], Y_ALL[:64], epochs=6, callbacks=[callback], verbose=0) for _ in range(2)
    ]
    expected = [0.01, 0.01, 0.01, 0.005, 0.005, 0.0025]
    for history in runs:
        assert history.history["learning_rate"] == pytest.approx(expected)
    other = overfitting_network()  # and on a network whose optimizer has another rate
    other.optimizer.learning_rate = 0.1
    history = other.fit(X_ALL[:64], Y_ALL[:64], epochs=6, callbacks=[callback], verbose=0)
    assert history.history["learning_rate"] == pytest.approx([10 * r for r in expected])


def test_a_reused_early_stopping_behaves_the_same_in_a_second_fit():
    stopper = nnkit.callback("early_stopping", monitor="val_loss", patience=3)
    outcomes = []
    for _ in range(2):
        history = overfitting_network().fit(
            X_ALL[:60],
            Y_ALL[:60],
            epochs=200,
            verbose=0,
            callbacks=[stopper],
            validation_data=(X_ALL[1000:1400], Y_ALL[1000:1400]),
        )
        outcomes.append((stopper.best_epoch, stopper.stopped_epoch, history.history["val_loss"]))
    assert outcomes[0] == outcomes[1] and outcomes[0][1] < 200


# -- model_checkpoint ------------------------------------------------------------------


def test_model_checkpoint_keeps_the_best_epoch_and_starts_afresh_when_reused(tmp_path):
    path = tmp_path / "best.nnkit"
    checkpoint = nnkit.callback("model_checkpoint", path=path, monitor="val_loss")
    validation = (X_ALL[1000:1400], Y_ALL[1000:1400])
    for _ in range(2):  # the second fit must not compare against the first fit's best
        net = overfitting_network()
        history = net.fit(
            X_ALL[:60],
            Y_ALL[:60],
            epochs=30,
            validation_data=validation,
            callbacks=[checkpoint],
            verbose=0,
        )
        val = history.history["val_loss"]
        assert checkpoint.best_epoch == int(np.argmin(val)) + 1
        assert checkpoint.best == min(val)
        saved = nnkit.load(path)
        assert saved.evaluate(*validation)["loss"] == pytest.approx(min(val), rel=1e-6)
        assert checkpoint.best_epoch < len(history)  # it overfits: later epochs were worse
        path.unlink()


def test_model_checkpoint_every_epoch_with_the_epoch_in_the_name(tmp_path):
    checkpoint = nnkit.callback(
        "model_checkpoint",
        path=str(tmp_path / "m-{epoch:02d}-{loss:.2f}.nnkit"),
        save_best_only=False,
    )
    history = overfitting_network().fit(
        X_ALL[:60], Y_ALL[:60], epochs=3, callbacks=[checkpoint], verbose=0
    )
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        f"m-{e:02d}-{loss:.2f}.nnkit" for e, loss in zip((1, 2, 3), history.history["loss"])
    ]
    with pytest.raises(nnkit.ConfigurationError, match=r"cannot be filled in.*it may name"):
        overfitting_network().fit(
            X_ALL[:60],
            Y_ALL[:60],
            epochs=1,
            verbose=0,
            callbacks=[
                nnkit.callback(
                    "model_checkpoint", path=str(tmp_path / "{val_f1}.nnkit"), save_best_only=False
                )
            ],
        )


def test_model_checkpoint_monitoring_a_quantity_not_logged_fails_before_training(tmp_path):
    net = overfitting_network()
    with pytest.raises(nnkit.ConfigurationError, match="model_checkpoint monitors 'val_loss'"):
        net.fit(
            X_ALL[:50],
            Y_ALL[:50],
            verbose=0,
            callbacks=[nnkit.callback("model_checkpoint", path=tmp_path / "m.nnkit")],
        )
    assert not net.built or net.history is None


# -- csv_logger ------------------------------------------------------------------------


def test_csv_logger_writes_a_row_per_epoch_and_appends_on_request(tmp_path):
    path = tmp_path / "log.csv"
    schedule = nnkit.callback("lr_schedule", schedule="cosine")
    logger = nnkit.callback("csv_logger", path=path)
    net = overfitting_network()
    history = net.fit(
        X_ALL[:60],
        Y_ALL[:60],
        epochs=3,
        validation_split=0.2,
        verbose=0,
        callbacks=[schedule, logger],
    )
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate"
    assert len(lines) == 4
    assert [float(v) for v in lines[2].split(",")] == [
        2,
        *(history.history[name][1] for name in lines[0].split(",")[1:]),
    ]
    net.fit(
        X_ALL[:60],
        Y_ALL[:60],
        epochs=2,
        validation_split=0.2,
        verbose=0,
        callbacks=[schedule, logger],
    )  # reused: the file starts again
    assert len(path.read_text().splitlines()) == 3
    appender = nnkit.callback("csv_logger", path=path, append=True)
    net.fit(
        X_ALL[:60],
        Y_ALL[:60],
        epochs=2,
        validation_split=0.2,
        verbose=0,
        callbacks=[schedule, appender],
    )
    lines = path.read_text().splitlines()
    assert len(lines) == 5 and lines.count(lines[0]) == 1
    with pytest.raises(nnkit.ConfigurationError, match="cannot append to .*its columns are"):
        net.fit(X_ALL[:60], Y_ALL[:60], epochs=1, verbose=0, callbacks=[appender])


# -- schedules per step ------------------------------------------------------------------


class RateRecorder(nnkit.Callback):
    """The optimizer's learning rate at every step."""

    def on_train_begin(self):
        self.rates = []

    def on_batch_begin(self, batch):
        self.rates.append(self.network.optimizer.learning_rate)


def rates_per_step(schedule, epochs=3, batch_size=16, samples=64, **options):
    recorder = RateRecorder()
    callback = nnkit.callback("lr_schedule", schedule=schedule, **options)
    overfitting_network().fit(
        X_ALL[:samples],
        Y_ALL[:samples],
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
        callbacks=[callback, recorder],
    )
    return recorder.rates


def test_a_schedule_runs_per_step_when_asked():
    rates = rates_per_step("cosine", per="step")  # 4 steps per epoch, 12 in all
    expected = [0.01 * (1 + math.cos(math.pi * t / 12)) / 2 for t in range(12)]
    np.testing.assert_allclose(rates, expected, rtol=1e-12)
    per_epoch = rates_per_step("cosine")
    assert per_epoch == [0.01] * 4 + [0.0075] * 4 + [pytest.approx(0.0025)] * 4


def test_linear_warmup_rises_then_hands_over_or_holds():
    warm = rates_per_step(nnkit.schedule("linear_warmup", warmup=4, per="step"))
    np.testing.assert_allclose(warm, [0.0025, 0.005, 0.0075] + [0.01] * 9, rtol=1e-12)
    handed = rates_per_step(
        nnkit.schedule("linear_warmup", warmup=1, after=nnkit.schedule("step", step_size=1)),
        epochs=3,
    )
    np.testing.assert_allclose(handed[::4], [0.01, 0.01, 0.005], rtol=1e-12)


def pytorch_one_cycle(max_lr, total_steps, pct_start, anneal, div_factor=25.0, final=1e4):
    """The rates of PyTorch's ``OneCycleLR`` (``cycle_momentum=False``), step by step as
    its ``get_lr`` computes them (torch/optim/lr_scheduler.py)."""
    initial = max_lr / div_factor
    phases = [
        (float(pct_start * total_steps) - 1, initial, max_lr),
        (float(total_steps) - 1, max_lr, initial / final),
    ]
    rates = []
    for step in range(total_steps):
        start_step = 0.0
        for i, (end_step, start, end) in enumerate(phases):
            if step <= end_step or i == len(phases) - 1:
                pct = (step - start_step) / (end_step - start_step)
                if anneal == "cos":
                    rates.append(end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1))
                else:
                    rates.append((end - start) * pct + start)
                break
            start_step = end_step
    return rates


@pytest.mark.parametrize("pct_start, anneal", [(0.3, "cos"), (0.25, "linear"), (0.05, "cos")])
def test_one_cycle_follows_pytorch(pct_start, anneal):
    expected = pytorch_one_cycle(0.5, 12, pct_start, anneal)
    schedule = nnkit.schedule("one_cycle", max_lr=0.5, pct_start=pct_start, anneal=anneal)
    np.testing.assert_allclose(rates_per_step(schedule), expected, rtol=1e-12)
    longer = rates_per_step(
        nnkit.schedule("one_cycle", max_lr=0.5, total_steps=8, pct_start=pct_start, anneal=anneal)
    )
    np.testing.assert_allclose(longer[:8], pytorch_one_cycle(0.5, 8, pct_start, anneal))
    assert longer[8:] == [longer[7]] * 4  # after the cycle it holds the final rate


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: nnkit.callback("lr_schedule", per="batch"), "per must be 'epoch' or 'step'"),
        (
            lambda: nnkit.callback("lr_schedule", schedule="plateau", per="step"),
            "only known at the end of an epoch",
        ),
        (lambda: nnkit.schedule("linear_warmup", warmup=0), "warmup must be a positive integer"),
        (lambda: nnkit.schedule("linear_warmup", after="plateau"), "cannot hand over"),
        (lambda: nnkit.schedule("one_cycle", pct_start=1.0), r"pct_start must be in \(0, 1\)"),
        (lambda: nnkit.schedule("one_cycle", anneal="cosine"), "anneal must be 'cos' or"),
        (lambda: nnkit.schedule("one_cycle", total_steps=1), "total_steps must be an integer"),
        (lambda: nnkit.callback("csv_logger", path=""), "csv_logger path must be a file path"),
        (lambda: nnkit.callback("model_checkpoint", mode="up"), "mode must be 'auto'"),
    ],
)
def test_impossible_schedule_and_callback_arguments_are_rejected(build, message):
    with pytest.raises(nnkit.ConfigurationError, match=message):
        build()
