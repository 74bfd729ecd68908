"""The network: evaluate, back-propagate and update over a graph of layer calls (a list
of layers being a chain), in matrix form."""

from __future__ import annotations

import inspect
import math
import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from nnkit.engine.concurrency import ReadWriteLock
from nnkit.engine.freezing import effective_trainable, update_trainable
from nnkit.engine.gradients import NetworkGradients, backpropagate
from nnkit.engine.graph import Graph
from nnkit.engine.labels import class_labels
from nnkit.engine.layer_names import layer_names
from nnkit.engine.learning_rates import scale_step, step_scales
from nnkit.engine.legacy_scaling import with_scaling_layers
from nnkit.engine.outputs import named_outputs, outputs_loss
from nnkit.engine.parameters import ParameterStore, layer_spans
from nnkit.engine.summary import format_summary
from nnkit.errors import ConfigurationError, DataError
from nnkit.files.loading import read_network
from nnkit.files.model_format import MAX_SAMPLE_ELEMENTS
from nnkit.files.onnx import to_onnx as export_onnx
from nnkit.files.saving import save as save_model
from nnkit.files.weights import WeightsPlan, plan_weights, read_layer_weights
from nnkit.interfaces.layer import Layer, Shape, walk
from nnkit.interfaces.loss import Loss
from nnkit.interfaces.merge import MergeLayer
from nnkit.interfaces.optimizer import Optimizer
from nnkit.interfaces.symbolic import SymbolicTensor
from nnkit.interfaces.workspace import Workspace, WorkspacePool
from nnkit.registry.registry import default_registry, describe_component
from nnkit.training.inputs import prepare
from nnkit.training.outputs import OutputsLoss
from nnkit.training.trainer import INFERENCE_BATCH_SIZE, Trainer

if TYPE_CHECKING:
    from nnkit.interfaces.activation import Activation
    from nnkit.training.history import History

__all__ = ["Network", "load"]

#: The floating-point types a network computes in.
SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: The most elements per sample (at the input or any layer's output) for which `build`
#: runs its probe batch: 2**18 is a 3x256x256 image, a few MB for two samples.
PROBE_ELEMENTS = 2**18


class Network(Trainer):
    """A feed-forward network trained by back-propagation and gradient descent.

    The network builds its layers, runs the forward and backward passes and the
    optimizer step; `fit`, `evaluate` and `predict` come from `Trainer`.

    Args:
        layers: the layers, first to last; names or instances. Or else, by keyword:
        inputs: the `nnkit.Input` values of a network drawn as a graph, and
        outputs: the value it returns (a layer's call on them), as in
            ``Network(inputs=[x], outputs=[y])``; several outputs as a dict by name
            (``outputs={"kind": a, "size": b}``) or a list (``output_1``, ...); see
            "Models as graphs" in the guide.
        loss: the loss to minimise, by name or instance; for several outputs, a dict by
            output name (or one loss for all of them).
        optimizer: the update rule, by name or instance.
        seed: seeds initialisation, shuffling and every layer's noise; the same seed
            gives the same result.
        dtype: ``"float32"`` (the default, fast) or ``"float64"`` (for gradient checks).
        loss_weights: for several outputs, each output's loss weight, by output name
            (1 for an output not named) or a list in output order.

    Examples:
        >>> net = Network([Dense(16, activation="relu"), Dense(3, activation="softmax")],
        ...               loss="cross_entropy", optimizer="adam", seed=0)
        >>> x = Input(shape=(4,))
        >>> y = Dense(1)(Dense(8, activation="relu")(x))
        >>> graph = Network(inputs=[x], outputs=[y], loss="mse")
    """

    #: What `update` steps, planned for one count of layer-flag changes (`_plan_update`);
    #: a class default, so that a network unpickled from an earlier release plans anew.
    _update_plan: tuple[int, ParameterStore, np.ndarray | None, np.ndarray | None] | None = None

    def __init__(
        self,
        layers: Sequence[Layer | str] | None = None,
        loss: Loss | str | Mapping[str, Loss | str] | Sequence[Loss | str] = "mse",
        optimizer: Optimizer | str = "sgd",
        seed: int | None = None,
        dtype: str | np.dtype = "float32",
        *,
        inputs: SymbolicTensor | Sequence[SymbolicTensor] | None = None,
        outputs: SymbolicTensor
        | Sequence[SymbolicTensor]
        | Mapping[str, SymbolicTensor]
        | None = None,
        loss_weights: Mapping[str, float] | Sequence[float] | None = None,
    ) -> None:
        registry = default_registry()
        if inputs is not None or outputs is not None:
            self._graph, names = _drawn_graph(layers, inputs, outputs)
            #: Each layer once, in the order of its first call (a list's layers as given).
            self.layers: list[Layer] = self._graph.layers()
        else:
            if isinstance(layers, (str, Layer)) or not isinstance(layers, Sequence):
                raise ConfigurationError(
                    f"layers must be a list of layers, got {type(layers).__name__}"
                )
            if len(layers) == 0:
                raise ConfigurationError("a network needs at least one layer")
            self.layers = [registry.resolve("layer", layer) for layer in layers]
            self._graph, names = Graph.chain(len(self.layers), self.layers), ["output_1"]
        #: The names of the outputs: what `fit` takes ``y`` by and `predict` returns by,
        #: for several.
        self.output_names: list[str] = names
        layer_names(self.layers)  # refuses two layers of one name now, not at a later save
        #: The loss; for several outputs, the weighted sum of theirs (`OutputsLoss`).
        self.loss: Loss = outputs_loss(registry, names, loss, loss_weights)
        self.optimizer: Optimizer = registry.resolve("optimizer", optimizer)
        self.dtype = _as_dtype(dtype)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ConfigurationError(f"seed must be an integer or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        init_seed, shuffle_seed, layer_seed = np.random.SeedSequence(self.seed).spawn(3)
        self._init_rng = np.random.default_rng(init_seed)
        #: The generator that orders each epoch's batches.
        self.shuffle_rng = np.random.default_rng(shuffle_seed)
        self._layer_seed = layer_seed
        #: The shape of one input sample, once built: ``(n_features,)`` for flat data.
        self.input_shape: Shape | None = None
        #: The shape of one output sample, once built: ``(n_outputs,)``, or for outputs
        #: that keep a time axis ``(T, n_outputs)``.
        self.output_shape: Shape | None = None
        self.store: ParameterStore | None = None
        self.optimizer_state: dict[str, np.ndarray] = {}
        self.history: History | None = None
        #: Set to True (by a callback) to stop training after the current batch.
        self.stop_training = False
        #: The sample shape of each input, once built.
        self.input_shapes: list[Shape] = []
        #: The output sample shape of each layer (of each call, in a graph), once built.
        self.layer_shapes: list[Shape] = []
        # Each shared layer's part of the flat gradient array, to add its calls' gradients.
        self._gradient_spans: dict[int, np.ndarray] = {}
        #: Each layer's own random generator (for dropout masks), once built.
        self.layer_rngs: list[np.random.Generator] = []
        #: Free-form facts saved with the model (the CLI keeps feature and class names here).
        self.metadata: dict[str, Any] = {}
        self._fused_output = False
        self._fused_one_hot = False  # the fused loss takes one_hot (Loss.fused_gradient)
        self._fused_call = -1
        self._penalty_layers: tuple[Layer, ...] = ()
        self._committing: tuple[Layer, ...] = ()
        self._init_concurrency()

    def _init_concurrency(self) -> None:
        # Each call borrows a workspace; training's steps and inference's reads of the
        # weights take turns (nnkit.engine.concurrency); one build and one fit at a time.
        self._workspaces = WorkspacePool()
        self._weights_lock = ReadWriteLock()
        self._build_lock = threading.Lock()
        self._training_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # Locks and scratch space belong to this process's calls, not to the network.
        state = self.__dict__.copy()
        for name in ("_workspaces", "_weights_lock", "_build_lock", "_training_lock"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_concurrency()
        if self.store is not None:  # a copy's layers must see the copy's parameters
            for layer, params, grads in zip(
                self.all_layers, self.store.value_views, self.store.grad_views
            ):
                layer.bind(params, grads)
            store = self.store
            self._gradient_spans = layer_spans(self.layers, store.shapes, store.grads)

    # -- building ------------------------------------------------------------------

    @property
    def built(self) -> bool:
        """Whether the input shape is known and the parameters exist."""
        return self.store is not None

    @property
    def n_inputs(self) -> int | None:
        """The number of input values per sample (``n_features`` for flat data)."""
        return None if self.input_shape is None else math.prod(self.input_shape)

    @property
    def n_outputs(self) -> int | None:
        """The width of the output layer: its units for each position, the last axis of
        `output_shape` (``vocab`` for per-token outputs ``(T, vocab)``)."""
        return None if self.output_shape is None else self.output_shape[-1]

    @property
    def layer_names(self) -> list[str]:
        """The name of each of `layers`, unique within the network: the layer's own
        `Layer.name` if the user gave one, else its registry name with ``_1``, ``_2``,
        ... for later layers of that name (``"dense"``, ``"dense_1"``), as Keras does.
        Saved in the model file; `load_weights` matches layers by them."""
        return layer_names(self.layers)

    @property
    def all_layers(self) -> list[Layer]:
        """Every layer, those held by other layers included, in the order their
        parameters are stored: each layer, then the layers it holds."""
        return list(walk(self.layers))

    def build(
        self,
        input_shape: int | Sequence[int],
        *,
        max_parameters: int | None = None,
        max_sample_elements: int | None = None,
    ) -> Network:
        """Size every layer for samples of ``input_shape`` (an ``int`` for flat data with
        that many features) and draw the initial parameters.

        Each layer is then run once on a probe batch of two zero samples, forward and
        back, to check that it returns the shapes and dtype it promised; samples of more
        than `PROBE_ELEMENTS` elements (at the input or any layer's output) are not run,
        so that building costs no memory by the size of an image. ``max_parameters``
        refuses to allocate more parameters than that, and ``max_sample_elements``
        refuses samples with more elements than that at the input or at any layer's
        output (guards the model loader uses, so that a damaged or edited file cannot
        ask for terabytes).
        """
        with self._build_lock:
            shape = _as_shape(input_shape)
            self._check_input_shape(shape)
            return self._build(shape, max_parameters, max_sample_elements)

    @property
    def graph(self) -> Graph:
        """The layer calls this network runs (a chain for a list of layers)."""
        return self._graph

    def _check_input_shape(self, shape: Shape) -> None:
        """Refuse samples of another shape than a drawn graph's `nnkit.Input` declares."""
        declared = self._graph.input_shapes
        if declared is None:
            return
        if len(declared) > 1:  # the trainer hands the inputs side by side, flattened
            packed = (sum(math.prod(s) for s in declared),)
            if shape != packed:
                raise DataError(
                    f"the network's inputs {self._graph.input_names} take samples of shapes "
                    f"{', '.join(map(str, declared))}, {packed[0]} numbers side by side, got "
                    f"samples of shape {shape}; give X as a dict by input name"
                )
        elif declared[0] != shape:
            raise DataError(
                f"the network's input {self._graph.input_names[0]!r} takes samples of shape "
                f"{declared[0]}, got samples of shape {shape}"
            )

    def _build(
        self,
        input_shape: Shape,
        max_parameters: int | None,
        max_sample_elements: int | None = None,
    ) -> Network:
        self.layer_rngs = [
            np.random.default_rng(s) for s in self._layer_seed.spawn(len(self.layers))
        ]
        graph = self._graph
        sample_shapes = [input_shape] if graph.n_inputs == 1 else list(graph.input_shapes or [])
        rngs = dict(zip(map(id, self.layers), self.layer_rngs))
        self.layer_shapes = _build_calls(graph, sample_shapes, rngs)
        shape = self.layer_shapes[graph.outputs[0] - graph.n_inputs]
        if isinstance(self.loss, OutputsLoss):  # several: each flat, side by side
            shape = self._build_outputs(self.loss)
        elif len(shape) != 1 and not self.loss.any_output_shape:
            raise ConfigurationError(
                f"the last layer ({_describe(self.layers[-1])}) returns samples of shape "
                f"{shape}, but the loss {describe_component(self.loss)} compares flat "
                "outputs (samples, outputs); end with flatten(), and a dense() after it if "
                "need be, or use a loss that takes outputs of any shape, such as "
                "'cross_entropy' (a class per position) or 'mse'"
            )
        else:
            _check_output_suits_loss(self.layers[-1], self.loss)
        if max_sample_elements is not None:
            _check_sample_size(
                input_shape,
                [node.layer for node in graph.nodes],
                self.layer_shapes,
                max_sample_elements,
            )
        nodes = self.all_layers
        shapes = [layer.parameter_shapes() for layer in nodes]
        if max_parameters is not None:
            needed = sum(math.prod(s) for layer in shapes for s in layer.values())
            if needed > max_parameters:
                raise ConfigurationError(
                    f"the layers need {needed:,} parameters, more than the "
                    f"{max_parameters:,} allowed"
                )
        store = ParameterStore(shapes, self.dtype)
        for layer, params, grads in zip(nodes, store.value_views, store.grad_views):
            layer.bind(params, grads)
            layer.initialize(self._init_rng)
        # perf: what every training step visits, found once the parameters are declared:
        # each call's layer that may add a penalty (once per call; the default penalty
        # of a layer that declared no l2 is 0), and the layers whose state the step
        # commits.
        self._penalty_layers = tuple(
            layer
            for layer in walk(self._graph.called)
            if type(layer).penalty is not Layer.penalty
            or any(spec.l2 for spec in layer.declared_parameters().values())
        )
        self._committing = tuple(
            n for n in nodes if type(n).commit_state is not Layer.commit_state
        )
        self.input_shape, self.output_shape = input_shape, shape
        self.input_shapes = sample_shapes
        self._gradient_spans = layer_spans(self.layers, shapes_of=store.shapes, flat=store.grads)
        self.store = store
        self._workspaces.clear()
        self.optimizer_state = self.optimizer.init_state(self.store.values)
        # Declared on both sides: the layer names the activation it can skip
        # (Layer.fusable_activation), the loss the one it fuses with (fused_activation).
        self._fused_output = (
            len(graph.outputs) == 1
            and _fuses(self.loss, self.layers[-1].fusable_activation())
            and graph.readers(graph.outputs[0]) == 1  # dZ holds for no other reader
        )
        self._fused_one_hot = self._fused_output and _takes_one_hot(self.loss)
        # The call whose seed is dZ^L, as graph.backward counts calls (-1: none).
        self._fused_call = graph.outputs[0] - graph.n_inputs if self._fused_output else -1
        self._probe()
        if graph.masked:
            self._check_masks()
        return self

    def _build_outputs(self, loss: OutputsLoss) -> Shape:
        """Check each output of several against its loss, and the width of all of them
        side by side, as `forward` returns them."""
        graph, widths = self._graph, []
        for name, slot, output_loss in zip(self.output_names, graph.outputs, loss.losses):
            node = graph.nodes[slot - graph.n_inputs]
            shape = self.layer_shapes[slot - graph.n_inputs]
            if len(shape) != 1:
                raise ConfigurationError(
                    f"output {name!r} ({_describe(node.layer)}) returns samples of shape "
                    f"{shape}, but a loss compares flat outputs; end it with flatten(), and "
                    "a dense() after it if need be"
                )
            _check_output_suits_loss(node.layer, output_loss)
            if type(node.layer).training_targets is not Layer.training_targets:
                raise ConfigurationError(
                    f"output {name!r} ({_describe(node.layer)}) rescales its targets for "
                    "training, which a network of several outputs does not do; scale that "
                    "output's targets before fit instead"
                )
            widths.append(shape[0])
        loss.set_widths(widths)
        return (sum(widths),)

    def _probe(self) -> None:
        """Run a batch of two zero samples forward and back through each layer and check
        the shapes and dtypes against what `build` was told, naming the culprit."""
        assert self.input_shape is not None, "_build sets input_shape before probing"
        largest = max(math.prod(shape) for shape in [self.input_shape, *self.layer_shapes])
        if largest > PROBE_ELEMENTS:
            # Two zero images of that size, and a convolution's unfolded copy of them,
            # would cost more than the network itself: the shapes each layer's build
            # promised stand, and the first batch they see is checked by its use.
            return
        workspace = Workspace()
        graph = self._graph
        values = [np.zeros((2, *shape), dtype=self.dtype) for shape in self.input_shapes]
        for index, (node, shape) in enumerate(zip(graph.nodes, self.layer_shapes)):
            layer, reads = node.layer, [values[slot] for slot in node.inputs]
            with _blaming(layer, index, "forward"):
                if isinstance(layer, MergeLayer):
                    x = layer.forward_inputs(reads, workspace.child(index), False)
                else:
                    x = layer.forward(reads[0], workspace.child(index), False)
            _check_output(x, (2, *shape), self.dtype, layer, index, "forward", "output")
            values.append(x)
        for index in range(len(graph.nodes) - 1, -1, -1):
            node = graph.nodes[index]
            layer, reads = node.layer, [values[slot] for slot in node.inputs]
            dy = np.zeros_like(values[graph.n_inputs + index])
            with _blaming(layer, index, "backward"):
                if isinstance(layer, MergeLayer):
                    gradients = layer.backward_inputs(dy, workspace.child(index), True)
                else:
                    gradients = [layer.backward(dy, workspace.child(index), True)]
            if len(gradients) != len(reads):
                raise ConfigurationError(
                    f"layer {index + 1} ({_describe(layer)}) broke the layer contract: "
                    f"backward_inputs() returned {len(gradients)} gradients for "
                    f"{len(reads)} inputs"
                )
            for gradient, read in zip(gradients, reads):
                _check_output(
                    gradient, read.shape, self.dtype, layer, index, "backward", "input gradient"
                )

    def _check_masks(self) -> None:
        """Carry the masks of one zero sample through the calls, so that a mask reaching
        a layer that refuses it (`Layer.compute_mask`), or an output mask the loss cannot
        leave out, fails when the network is built, naming the layer."""
        graph = self._graph
        values = [np.zeros((1, *shape), dtype=self.dtype) for shape in self.input_shapes]
        masks: list[np.ndarray | None] = [None] * len(values)
        for index, (node, shape) in enumerate(zip(graph.nodes, self.layer_shapes)):
            incoming = [masks[slot] for slot in node.inputs]
            mask = None
            try:
                if isinstance(node.layer, MergeLayer):
                    reads = [values[slot] for slot in node.inputs]
                    mask = node.layer.compute_mask_inputs(reads, incoming)
                else:
                    mask = node.layer.compute_mask(values[node.inputs[0]], incoming[0])
            except ConfigurationError as error:
                raise ConfigurationError(
                    f"layer {index + 1} ({_describe(node.layer)}): {error}"
                ) from None
            values.append(np.zeros((1, *shape), dtype=self.dtype))
            masks.append(mask)
        carried = [masks[slot] is not None for slot in graph.outputs]
        if any(carried) and (len(carried) > 1 or not self.loss.skips_empty_targets):
            raise ConfigurationError(
                f"the network's output carries a mask of padded positions, but the loss "
                f"{describe_component(self.loss)} cannot leave masked positions out (a "
                "loss that does: 'cross_entropy', for one output per position); end "
                "with a layer that reads and drops the mask, such as global_avg_pool1d or "
                "a recurrent layer without return_sequences"
            )

    def ensure_built(self, sample_shape: Sequence[int]) -> None:
        """Build the network for samples of ``sample_shape`` unless it is built already
        (by this thread or, meanwhile, another)."""
        if not self.built:
            with self._build_lock:
                if not self.built:  # another thread may have built it meanwhile
                    shape = _as_shape(sample_shape)
                    self._check_input_shape(shape)
                    self._build(shape, None)

    # -- the algorithm -------------------------------------------------------------

    def forward(
        self, X: np.ndarray, workspace: Workspace | None = None, training: bool = False
    ) -> np.ndarray:
        """Evaluate: the output batch ``(m, *output_shape)`` for ``X`` of shape
        ``(m, *input_shape)``, each layer keeping its ``Z^l`` and ``A^l`` in ``workspace``.
        A network of several inputs takes them side by side, each sample flattened, in
        input order (as `fit` and `predict` lay out a dict by input name).

        The result may be a buffer of ``workspace`` that its next use overwrites; without
        a workspace, a fresh one is used.
        """
        workspace = Workspace() if workspace is None else workspace
        graph = self._graph
        chain = graph.chain_calls
        if chain is not None:  # a list of layers, each called on the previous one's output
            A = X
            for layer, ws in zip(chain, workspace.children(len(chain))):
                A = layer.forward(A, ws, training)
        else:
            xs = [X] if graph.n_inputs == 1 else self._unpack(X)
            outputs = graph.forward(xs, workspace, training)
            if len(outputs) > 1:  # side by side, as the targets are packed (OutputsLoss)
                width = sum(a.shape[1] for a in outputs)
                packed = workspace.buffer("outputs", (X.shape[0], width), self.dtype)
                np.concatenate(outputs, axis=1, out=packed)
                return packed
            A = outputs[0]
        if training and A.ndim == 2 and not A.flags.c_contiguous:
            # perf: training's layers hand on a transposed view of their columns; the
            # loss (a dot product over rows), the metrics (an arg-max per row) and the
            # fused gradient each read it row by row, and on a strided view each would
            # copy it first: one copy here, into rows, serves them all.
            rows = workspace.buffer("output rows", A.shape, A.dtype)
            rows[...] = A
            A = rows
        return A

    def _unpack(self, X: np.ndarray) -> list[np.ndarray]:
        """Each input of a network of several, as a view of the samples the trainer
        hands over side by side (`nnkit.data.named.pack_inputs`)."""
        xs, offset = [], 0
        for shape in self.input_shapes:
            size = math.prod(shape)
            xs.append(X[:, offset : offset + size].reshape(X.shape[0], *shape))
            offset += size
        return xs

    def backward(
        self,
        A: np.ndarray,
        Y: np.ndarray,
        workspace: Workspace,
        sample_weight: np.ndarray | None = None,
    ) -> None:
        """Back-propagate: fill the gradient array for output ``A = A^L`` and targets ``Y``,
        both one row per sample, ``(m, *output_shape)`` (``A`` as `forward` returned it), after
        `forward` in ``workspace``.

        With a loss fused to the output activation, ``dZ^L`` comes from its `fused_gradient`;
        otherwise ``dA^L`` comes from the loss and each layer turns the gradient of its
        output into that of its input, walking from the last layer to the first.
        ``sample_weight``, of shape ``(m,)``, scales each sample's row of the output
        gradient.
        """
        graph = self._graph
        if self._fused_output:
            out = workspace.buffer_like("dZ", A)
            if self._fused_one_hot and Y is workspace.one_hot_targets:
                seed = self.loss.fused_gradient(A, Y, out=out, one_hot=True)
            else:
                seed = self.loss.fused_gradient(A, Y, out=out)
            if sample_weight is not None:
                seed *= sample_weight.reshape(-1, *(1,) * (A.ndim - 1))
        else:
            seed = self.loss.gradient(A, Y)
            if sample_weight is not None:
                seed = seed * sample_weight.reshape(-1, *(1,) * (A.ndim - 1))
        chain = graph.chain_calls
        if chain is not None:  # each call's output gradient is the next one's input gradient
            children = workspace.children(len(chain))
            fused_call = self._fused_call
            dy: np.ndarray | None = seed
            for index in range(len(chain) - 1, -1, -1):
                assert dy is not None  # only the first call skips its input gradient
                if index == fused_call:
                    dy = chain[index].backward_from_dZ(dy, children[index], index > 0)
                else:
                    dy = chain[index].backward(dy, children[index], index > 0)
            return
        seeds = [seed]
        if isinstance(self.loss, OutputsLoss):  # each output's columns
            count = len(self.loss.names)
            seeds = [np.ascontiguousarray(seed[:, self.loss.columns(k)]) for k in range(count)]
        graph.backward(seeds, workspace, self._fused_call, self._gradient_span)

    def _gradient_span(self, layer: Layer) -> np.ndarray | None:
        """A shared layer's part of the flat gradient array."""
        return self._gradient_spans.get(id(layer))

    def batch_loss(
        self, A: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> float:
        """The loss of a batch: the (weighted) mean of the per-sample losses plus every
        layer's regularisation penalty. ``A`` and ``Y`` are ``(m, *output_shape)`` and
        ``sample_weight`` has shape ``(m,)``."""
        if sample_weight is None:
            value = self.loss.value(A, Y)
        else:
            value = float(np.dot(self.loss.per_sample(A, Y), sample_weight)) / A.shape[0]
        # A shared layer's penalty counts once per call, as backward adds its gradient.
        for layer in self._penalty_layers:
            value += layer.penalty()
        return value

    def update(self) -> None:
        """Gradient descent: one optimizer step over all parameters at once, while no
        inference call is reading the weights.

        In the same step, every layer that overrides `Layer.commit_state` applies the state
        its last training forward pass computed (batch normalisation's running
        statistics): a layer's `state()` changes only here, so a prediction in another
        thread sees the weights and the state of one and the same step."""
        lock = self._weights_lock
        lock.acquire_write()
        try:
            # perf: the positions and the scales change only with some layer's flags: one
            # look at the counter per step, not a look-up each.
            plan = self._update_plan
            if plan is None or plan[0] != Layer.trainable_changes[0] or plan[1] is not self.store:
                plan = self._plan_update()
            store, positions, scales = plan[1], plan[2], plan[3]
            if positions is None and scales is None:  # every parameter, at the full rate
                self.optimizer.update(store.values, store.grads, self.optimizer_state)
            else:
                self._partial_update(store, positions, scales)
            for layer in self._committing:
                layer.commit_state()
        finally:
            lock.release_write()

    def _plan_update(self) -> tuple[int, ParameterStore, np.ndarray | None, np.ndarray | None]:
        """What `update` steps, for the layers' flags as they are now: the positions of
        the trainable parameters (None: all) and each one's step factor (None: all 1)."""
        store = self.store
        if store is None:
            store = self._require_built("update")
        changes = Layer.trainable_changes[0]
        positions, scales = self._trainable_positions(store), self._step_scales(store)
        self._update_plan = (changes, store, positions, scales)
        return self._update_plan

    def _partial_update(
        self, store: ParameterStore, positions: np.ndarray | None, scales: np.ndarray | None
    ) -> None:
        """An optimizer step over the trainable parameters only, each step scaled by its
        layer's learning-rate multiplier."""
        before = None if scales is None else store.values.copy()
        if positions is None:
            self.optimizer.update(store.values, store.grads, self.optimizer_state)
        else:
            update_trainable(
                self.optimizer, store.values, store.grads, self.optimizer_state, positions
            )
        if scales is not None and before is not None:
            scale_step(store.values, before, scales)

    def gradients(
        self, X: Any, y: Any, sample_weight: Any = None, *, training: bool = False
    ) -> NetworkGradients:
        """The loss of the batch ``X``, ``y`` and its gradients with respect to every
        parameter and to ``X``, nothing updated (`NetworkGradients`).

        For saliency maps, adversarial examples, gradient checks
        (`nnkit.testing.check_network_gradients`) and comparisons with another framework.
        ``training=True`` runs the layers as `fit` does (dropout's noise, batch
        statistics), still without changing any layer's state. Safe while `fit` runs in
        another thread: the call reads the weights of one step, writes only arrays of its
        own, and returns arrays no later call overwrites. A network drawn as a graph
        gives them too: a shared layer's gradient is the sum over its calls, and the
        gradient of a network of several inputs is a dict by input name.
        """
        data = prepare(self, X, y, sample_weight)
        with self._weights_lock.reading():
            store = self._require_built("gradients")
            xs = [data.X] if self._graph.n_inputs == 1 else self._unpack(data.X)
            return backpropagate(
                self.layers,
                self._graph,
                store,
                self.loss,
                self._fused_output,
                xs,
                data.Y,
                data.weights,
                training,
            )

    def _step_scales(self, store: ParameterStore) -> np.ndarray | None:
        """Each parameter's step factor (None: all 1); `update` keeps it until some
        layer's `trainable` or `learning_rate_multiplier` changes."""
        return step_scales(self.layers, store.shapes, store.values.dtype)

    def _trainable_positions(self, store: ParameterStore) -> np.ndarray | None:
        """The positions the optimizer steps (None: all); `update` keeps them until some
        layer's `trainable` flag changes, so that a step costs no loop over layers."""
        return store.trainable_positions(effective_trainable(self.layers))

    @contextmanager
    def reading(self) -> Iterator[Workspace]:
        """Read the weights for inference: a workspace of this call's own, while no
        optimizer step changes the weights (any number of readers at once)."""
        with self._weights_lock.reading(), self._workspaces.borrow() as workspace:
            yield workspace

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the weights for a change made outside an optimizer step (a
        preprocessing layer learning its statistics): no prediction reads meanwhile."""
        with self._weights_lock.writing():
            yield

    @contextmanager
    def training_session(self) -> Iterator[None]:
        """Hold this network for one training run; a second one from another thread
        raises `ConfigurationError` instead of interleaving its steps."""
        if not self._training_lock.acquire(blocking=False):
            raise ConfigurationError(
                "this network is already training (fit was called from another thread); "
                "one fit at a time per network: wait for it, or train a copy (copy.deepcopy)"
            )
        try:
            yield
        finally:
            self._training_lock.release()

    def predict_labels(self, X: Any, batch_size: int = INFERENCE_BATCH_SIZE) -> np.ndarray:
        """The predicted class of each sample, for a classifier: the class names kept in
        ``metadata["classes"]`` (``nnkit train`` saves the target's names there), or else
        the class indices, the integer labels it was trained on.

        Raises:
            ConfigurationError: the network's loss does not classify (a regression).
        """
        if not self.loss.accepts_class_labels:
            raise ConfigurationError(
                f"predict_labels needs a classifier, but the loss {type(self.loss).__name__} "
                "predicts numbers; use predict"
            )
        return class_labels(self.predict(X, batch_size), self.metadata.get("classes"))

    # -- parameters ----------------------------------------------------------------

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter, layer by layer in the order each layer declares them,
        each in its layer's shape (`Layer.parameter_shapes`): for Dense layers
        ``[W1, b1, W2, b2, ...]``, with ``W^l`` of shape ``(n^l, n^{l-1})`` and ``b^l`` a
        vector ``(n^l,)``."""
        store = self._require_built("get_weights")
        return [array.copy() for array in store.arrays()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Replace every parameter; ``weights`` as `get_weights()` returns them."""
        current = self._require_built("set_weights").arrays()
        if len(weights) != len(current):
            raise DataError(
                f"set_weights got {len(weights)} arrays but the network has {len(current)} "
                "(W1, b1, W2, b2, ...)"
            )
        arrays = []
        for index, (new, old) in enumerate(zip(weights, current)):
            new = np.asarray(new)
            if new.shape != old.shape:
                raise DataError(
                    f"weight array {index} has shape {new.shape} but the network expects "
                    f"{old.shape}"
                )
            if not np.isfinite(new).all():
                raise DataError(f"weight array {index} contains NaN or infinite values")
            arrays.append(new)
        with self._weights_lock.writing():  # all checked first: never half-replaced
            for new, old in zip(arrays, current):
                old[...] = new

    def load_weights(
        self,
        path: str | os.PathLike[str],
        *,
        by_name: bool = False,
        skip_mismatch: bool = False,
    ) -> None:
        """Copy the weights of the model file at ``path`` into this built network.

        By default the file's layers must be this network's, layer for layer, with
        parameters of the same shapes. With ``by_name=True`` each layer takes the
        weights of the file's layer of the same name (`layer_names`), and layers the
        file does not name keep theirs: how a saved network's body goes under a new
        head for fine-tuning. A layer whose parameters have other shapes than the
        file's layer of its name is an error naming the layer and both shapes, unless
        ``skip_mismatch=True``, which leaves it as it is and warns with the list of
        those skipped.

        Only parameters are copied, not a layer's state (running statistics) nor the
        optimizer's. The file is read as `nnkit.load` reads it (no code runs, the same
        limits), and everything is checked before anything is written: on an error the
        network is unchanged. The weights change inside the weights' write lock, so a
        prediction in another thread sees them all old or all new.

        Raises:
            ConfigurationError: the network is not built yet, or ``by_name`` and
                ``skip_mismatch`` are not booleans.
            DataError: the file's layers do not fit this network's (named in the message).
            ModelFileError: the file cannot be read (see `nnkit.load`).
        """
        self._require_built("load_weights")
        for flag, value in (("by_name", by_name), ("skip_mismatch", skip_mismatch)):
            if not isinstance(value, bool):
                raise ConfigurationError(f"{flag} must be True or False, got {value!r}")
        saved = read_layer_weights(path, type(self))
        plan: WeightsPlan = plan_weights(
            list(zip(self.layer_names, self.layers)), saved, str(path),
            by_name=by_name, skip_mismatch=skip_mismatch,
        )
        with self._weights_lock.writing():  # all checked first: never half-replaced
            for target, array in plan:
                target[...] = array

    def _require_built(self, what: str) -> ParameterStore:
        """The parameters of a built network; `ConfigurationError` naming ``what`` if the
        network is not built yet."""
        if self.store is None:
            raise ConfigurationError(
                f"{what} needs a built network: call fit, predict or build(n_inputs) first"
            )
        return self.store

    def save(
        self,
        path: str | os.PathLike[str],
        include_optimizer: bool = True,
        *,
        allow_non_finite: bool = False,
    ) -> None:
        """Write the network to one file, atomically: JSON for the components and raw
        arrays for the weights (and, by default, the optimizer's state, so that training
        resumes exactly). Weights holding NaN or infinity (a diverged run) are refused
        unless ``allow_non_finite`` is true. See `nnkit.files.saving.save()`."""
        save_model(
            self, path, include_optimizer=include_optimizer, allow_non_finite=allow_non_finite
        )

    def to_onnx(self, path: str | os.PathLike[str] | None = None, opset: int = 17) -> Any:
        """The network as an ONNX model, written to ``path`` if given; its input ``X`` (or,
        drawn as a graph, one input per `nnkit.Input`, by name) and output ``Y`` are those
        of `predict`. Needs the ``onnx`` extra; see
        `nnkit.files.onnx.to_onnx()`."""
        return export_onnx(self, path, opset)

    def summary(self, file: TextIO | None = None) -> None:
        """Print a table of the layers: output shape, parameter count, activation, the
        distribution that supplied each component, and the layer's name in the network
        (`layer_names`); then the trainable and frozen parameter counts."""
        print(format_summary(self), file=sys.stdout if file is None else file)

    @property
    def n_parameters(self) -> int:
        """The number of parameters in the network, frozen ones included."""
        return 0 if self.store is None else self.store.size

    @property
    def n_trainable_parameters(self) -> int:
        """The number of parameters `fit` updates: those of layers not frozen."""
        if self.store is None:
            return 0
        positions = self._trainable_positions(self.store)
        return self.store.size if positions is None else int(positions.size)

    def __repr__(self) -> str:
        layers = ", ".join(repr(layer) for layer in self.layers)
        return f"Network([{layers}], loss={self.loss!r}, optimizer={self.optimizer!r})"


def load(
    path: str | os.PathLike[str],
    *,
    substitute: Mapping[str, str] | None = None,
    allow_non_finite: bool = False,
    max_sample_elements: int = MAX_SAMPLE_ELEMENTS,
) -> Network:
    """Read a network saved by `Network.save()`.

    Each component is built by the plugin that supplied it when the model was saved,
    never by another plugin that happens to offer the same name. ``substitute`` asks
    for a replacement explicitly: ``substitute={"relu": "nnkit_std:relu"}`` builds the
    standard ``relu`` wherever the file names ``relu`` (a key ``"plugin:relu"`` replaces
    only that plugin's), with a `SubstitutionWarning` saying so.

    ``allow_non_finite`` accepts weights and state holding NaN or infinity, as saved with
    ``save(path, allow_non_finite=True)`` from a diverged run; by default they are refused.

    ``max_sample_elements`` bounds the elements of one sample, at the input and at every
    layer's output (by default `nnkit.files.model_format.MAX_SAMPLE_ELEMENTS`, 2**25): a
    file asking for more is refused before anything of that size is allocated, since
    the parameter count alone does not bound a convolution's memory. Raise it to load a
    trusted model of larger images.

    A file written by nnkit 0.2.0's ``nnkit train`` kept its standardisation in the
    metadata (``"scaling"``); it is turned into ``standardize`` and ``rescale_output``
    layers, first and last, so the network answers as ``nnkit predict`` always did.

    Raises:
        FileNotFoundError: there is no file at ``path``.
        MissingComponentError: the model needs a component whose supplier is not loaded;
            the message names it, its distribution and version, and the loaded plugins
            that offer the same name.
        ConfigurationError: ``substitute`` names a component the model does not use.
        ModelFileError: anything else wrong with the file.
    """
    network = read_network(
        path,
        Network,
        substitute=substitute,
        allow_non_finite=allow_non_finite,
        max_sample_elements=max_sample_elements,
    )
    return with_scaling_layers(network, path)


def _drawn_graph(
    layers: object,
    inputs: SymbolicTensor | Sequence[SymbolicTensor] | None,
    outputs: SymbolicTensor | Sequence[SymbolicTensor] | Mapping[str, SymbolicTensor] | None,
) -> tuple[Graph, list[str]]:
    """The graph of ``Network(inputs=..., outputs=...)`` and its outputs' names,
    refusing what it cannot run."""
    if layers is not None:
        raise ConfigurationError(
            "give either a list of layers or inputs= and outputs=, not both"
        )
    if inputs is None or outputs is None:
        raise ConfigurationError("a network drawn as a graph needs both inputs= and outputs=")
    ins = [inputs] if isinstance(inputs, SymbolicTensor) else list(inputs)
    outs, names = named_outputs(outputs)
    if not outs:
        raise ConfigurationError("outputs is empty: a network gives at least one output")
    if len({id(value) for value in outs}) != len(outs):
        raise ConfigurationError("outputs lists the same value twice; give each output once")
    return Graph.from_symbolic(ins, outs), names


def _build_calls(
    graph: Graph, input_shapes: Sequence[Shape], rngs: Mapping[int, np.random.Generator]
) -> list[Shape]:
    """Build each layer for the shapes of its first call, in order, and return the output
    sample shape of every call; a shared layer's later calls must see the same shapes."""
    slots: list[Shape] = list(input_shapes)
    built: dict[int, tuple[list[Shape], Shape]] = {}
    for index, node in enumerate(graph.nodes):
        layer, shapes = node.layer, [slots[slot] for slot in node.inputs]
        if id(layer) in built:
            first, output = built[id(layer)]
            if shapes != first:
                raise ConfigurationError(
                    f"layer {index + 1} ({_describe(layer)}) is shared, called first on "
                    f"samples of shape {', '.join(map(str, first))} and then on "
                    f"{', '.join(map(str, shapes))}: a shared layer takes one shape"
                )
            slots.append(output)
            continue
        try:
            if isinstance(layer, MergeLayer) and len(shapes) > 1:  # not a list's layer
                output = _as_shape(layer.build_inputs(shapes, rngs[id(layer)]))
            else:
                output = _as_shape(layer.build(shapes[0], rngs[id(layer)]))
        except (ConfigurationError, ValueError, TypeError) as error:
            taken = ", ".join(map(str, shapes))
            raise ConfigurationError(
                f"layer {index + 1} ({_describe(layer)}) cannot take samples of shape "
                f"{taken}: {error}"
            ) from None
        built[id(layer)] = (shapes, output)
        slots.append(output)
    return slots[graph.n_inputs :]


def _check_sample_size(
    input_shape: Shape, layers: Sequence[Layer], shapes: Sequence[Shape], limit: int
) -> None:
    """Refuse samples of more than ``limit`` elements, at the input or after any layer,
    before anything of their size is allocated."""
    where = [("the input", input_shape)] + [
        (f"layer {index + 1} ({_describe(layer)})", shape)
        for index, (layer, shape) in enumerate(zip(layers, shapes))
    ]
    for name, shape in where:
        if math.prod(shape) > limit:
            raise ConfigurationError(
                f"{name} has samples of shape {shape}, {math.prod(shape):,} elements, more "
                f"than the {limit:,} allowed (max_sample_elements)"
            )


def _as_dtype(dtype: Any) -> np.dtype:
    """float32 or float64, from a name, a NumPy type or a dtype; anything else refused
    (``np.dtype(None)`` is float64, so ``None`` and misspellings are checked first)."""
    try:
        resolved = None if dtype is None else np.dtype(dtype)
    except (TypeError, ValueError):
        resolved = None
    if resolved not in SUPPORTED_DTYPES or resolved is None:
        raise ConfigurationError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return resolved


def _as_shape(shape: Any) -> Shape:
    """A sample shape as a tuple of positive ints (an ``int`` is a flat width)."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        dims = ()
    if not dims or any(
        isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in dims
    ):
        raise ConfigurationError(
            f"a sample shape must be a positive integer or a tuple of them, got {shape!r}"
        )
    return tuple(int(d) for d in dims)


def _fuses(loss: Loss, activation: Activation | None) -> bool:
    """Whether ``dZ^L`` may come from the loss's `fused_gradient`: the output activation
    is exactly the class registered as the loss's ``fused_activation``, by the loss's own
    plugin if it registers that name, or else by the only plugin that does. Another
    activation that shares the name (or a subclass, which may change ``forward``) is
    back-propagated in full."""
    name = loss.fused_activation
    if name is None or activation is None:
        return False
    registry = default_registry()
    providers = registry.providers("activation", name)
    loss_origin = registry.origin_of(loss)
    own = [p for p in providers if loss_origin is not None and p.plugin == loss_origin.plugin]
    chosen = own or (providers if len(providers) == 1 else [])
    return bool(chosen) and type(activation) is chosen[0].factory


def _takes_one_hot(loss: Loss) -> bool:
    """Whether ``loss.fused_gradient`` takes ``one_hot`` (a loss written before it was
    declared does not, and is called without it)."""
    return "one_hot" in inspect.signature(loss.fused_gradient).parameters


def _describe(layer: Layer) -> str:
    """A layer as errors name it: registry name and supplier, and its activation's."""
    text = describe_component(layer)
    activation = getattr(layer, "activation", None)
    if activation is not None:
        text += f" with activation {describe_component(activation)}"
    return text


def _check_output_suits_loss(layer: Layer, loss: Loss) -> None:
    """Refuse a loss that reads probabilities after an output that does not give them:
    the cross-entropy of an unbounded output goes negative, and training drives it
    down without end. A layer without an ``activation`` attribute, or an activation that
    does not say (`Activation.outputs_probabilities` is None), is trusted."""
    if not loss.expects_probabilities or not hasattr(layer, "activation"):
        return
    activation = layer.activation
    if activation is not None and activation.outputs_probabilities is not False:
        return
    registry = default_registry()
    loss_name = registry.name_of(loss) or type(loss).__name__
    ending = "no activation" if activation is None else describe_component(activation)
    fitting = loss.fused_activation or "softmax"
    advice = f"Give the last layer activation={fitting!r}"
    raise ConfigurationError(
        f"loss {loss_name!r} reads the output as probabilities, but the last layer "
        f"({describe_component(layer)}) ends with {ending}, which does not give "
        f"probabilities, so the loss would go negative. {advice}, or use a loss for "
        "unbounded outputs such as 'mse'"
    )


@contextmanager
def _blaming(layer: Layer, index: int, method: str) -> Iterator[None]:
    """Turn a crash of a layer's method during the build's probe into an error that
    names the layer and the plugin that supplied it."""
    try:
        yield
    except (ConfigurationError, DataError):
        raise
    except Exception as error:
        raise ConfigurationError(
            f"layer {index + 1} ({_describe(layer)}) failed in {method}() on a probe batch: "
            f"{type(error).__name__}: {error}"
        ) from error


def _check_output(
    array: Any,
    expected: tuple[int, ...],
    dtype: np.dtype,
    layer: Layer,
    index: int,
    method: str,
    what: str,
) -> None:
    if not isinstance(array, np.ndarray) or array.shape != expected or array.dtype != dtype:
        found = (
            f"shape {array.shape} and dtype {array.dtype}"
            if isinstance(array, np.ndarray)
            else type(array).__name__
        )
        raise ConfigurationError(
            f"layer {index + 1} ({_describe(layer)}) broke the layer contract: {method}() "
            f"returned an {what} of {found} for a probe batch of 2 samples, but should "
            f"return shape {expected} and dtype {dtype}; the layer or its activation is "
            "at fault (run the conformance kit, pytest --nnkit-check, on its plugin)"
        )
