"""A tiny reverse-mode automatic differentiation engine over a recorded computational graph.

The engine knows how to compute each primitive forward; how to propagate adjoints backward
through each primitive is supplied by the caller as a dictionary of *backward rules*::

    rules = {"square": square_backward, "exp": exp_backward, ...}

A backward rule receives the primitive's input values (a tuple), its output value and the
adjoint of its output ``g = ∂z/∂out``, and returns one adjoint contribution per input::

    def div_backward(inputs, out, g):
        x, y = inputs
        return (g / y, -g * x / y**2)

Values may be numbers or numpy arrays (then everything works elementwise, which evaluates
the graph at many points at once).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import reference_names

PRIMITIVES = {
    "square": lambda x: x * x,
    "exp": np.exp,
    "log": np.log,
    "sum": lambda *xs: sum(xs[1:], xs[0]),
    "div": lambda x, y: x / y,
}
"""Forward functions of the primitives, by name."""

ARITY = {"square": 1, "exp": 1, "log": 1, "sum": None, "div": 2}
"""Number of inputs of each primitive (None: any number)."""

__getattr__ = reference_names(__name__, ("torch_backward", "torch_z_and_gradients", "z_graph", "z_and_gradients"))
"""The torch.autograd references and the graph of z with its engine evaluation, in :mod:`helpers.reference`."""


@dataclass
class Node:
    """One vertex of the graph: an input, a constant, or a primitive applied to earlier nodes."""

    name: str
    value: object
    op: str | None = None
    inputs: tuple = ()
    label: str = ""
    constant: bool = False
    adjoint: object = field(default=None, repr=False)


class Graph:
    """A computational graph recorded in evaluation order (which is a topological order)."""

    def __init__(self):
        """Start an empty graph."""
        self.nodes: list[Node] = []

    def _add(self, node: Node) -> Node:
        """Append a node, refusing duplicate names."""
        if any(n.name == node.name for n in self.nodes):
            raise ValueError(f"a node named {node.name!r} already exists")
        self.nodes.append(node)
        return node

    def input(self, name: str, value, label: str = "") -> Node:
        """Add an input variable we differentiate with respect to."""
        return self._add(Node(name, value, label=label or name))

    def constant(self, value, name: str | None = None) -> Node:
        """Add a constant (it receives no adjoint)."""
        return self._add(Node(name or f"c{len(self.nodes)}", value, label=f"{value:g}", constant=True))

    def apply(self, op: str, *inputs: Node, name: str, label: str = "") -> Node:
        """Evaluate primitive ``op`` on the input nodes and record the result as node ``name``."""
        if op not in PRIMITIVES:
            raise ValueError(f"unknown primitive {op!r}; the engine knows {sorted(PRIMITIVES)}")
        if ARITY[op] is not None and len(inputs) != ARITY[op]:
            raise ValueError(f"{op} takes {ARITY[op]} input(s), got {len(inputs)}")
        value = PRIMITIVES[op](*(n.value for n in inputs))
        return self._add(Node(name, value, op=op, inputs=tuple(inputs), label=label or name))

    def node(self, name: str) -> Node:
        """The node called ``name``."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def backward(self, output: Node, rules: dict) -> dict:
        """Propagate adjoints from ``output`` with the given backward rules; return them by node name."""
        missing = sorted({n.op for n in self.nodes if n.op} - set(rules))
        if missing:
            raise KeyError(f"no backward rule for primitive(s) {missing}")
        for n in self.nodes:
            n.adjoint = None
        output.adjoint = np.ones_like(output.value) if np.ndim(output.value) else 1.0
        for n in reversed(self.nodes):
            if n.op is None or n.adjoint is None:
                continue
            contributions = rules[n.op](tuple(i.value for i in n.inputs), n.value, n.adjoint)
            if not isinstance(contributions, (tuple, list)) or len(contributions) != len(n.inputs):
                got = len(contributions) if isinstance(contributions, (tuple, list)) else type(contributions).__name__
                raise ValueError(f"the backward rule for {n.op!r} must return a tuple with one adjoint "
                                 f"per input ({len(n.inputs)}), got {got}")
            for parent, c in zip(n.inputs, contributions):
                if not parent.constant:
                    parent.adjoint = c if parent.adjoint is None else parent.adjoint + c
        return {n.name: n.adjoint for n in self.nodes if not n.constant}

    def depths(self) -> dict:
        """Longest distance of each node from the graph's inputs, used to lay it out."""
        depth = {}
        for n in self.nodes:
            depth[n.name] = 1 + max((depth[i.name] for i in n.inputs), default=-1)
        return depth


@dataclass
class Layout:
    """Where to draw a graph: a point per node and, per edge ``(parent, child)``, the polyline from one to the other."""

    pos: dict
    edges: dict
    BOX = (1.5, 0.7)
    """Width and height of the box drawn around a node, in the layout's units."""


def layered_layout(graph: Graph, dx: float = 2.2, dy: float = 1.2, sweeps: int = 4) -> Layout:
    """A layered drawing: column = depth; an edge that spans several columns bends through a slot of its own in
    each column it crosses instead of running straight through the nodes between; each column is ordered by the
    mean height of its neighbours in the previous one (a few sweeps of the barycentre heuristic)."""
    depth = graph.depths()
    columns: dict[int, list] = {d: [] for d in range(max(depth.values()) + 1)}
    for n in graph.nodes:
        columns[depth[n.name]].append(n.name)
    chains = {}  # (parent, child) -> the slots the edge passes through, dummy slots included
    for n in graph.nodes:
        for parent in n.inputs:
            dummies = [f"{parent.name}->{n.name}@{d}" for d in range(depth[parent.name] + 1, depth[n.name])]
            for d, slot in zip(range(depth[parent.name] + 1, depth[n.name]), dummies):
                columns[d].append(slot)
            chains[parent.name, n.name] = [parent.name, *dummies, n.name]
    before = {}  # slot -> the slots just before it on some edge
    for chain in chains.values():
        for u, v in zip(chain, chain[1:]):
            before.setdefault(v, []).append(u)
    for _ in range(sweeps):
        for d in range(1, len(columns)):
            rank = {slot: i for i, slot in enumerate(columns[d - 1])}
            columns[d].sort(key=lambda slot: (sum(rank[u] for u in before.get(slot, [])) / len(before[slot])
                                              if before.get(slot) else len(rank)))
    pos = {slot: (dx * d, dy * ((len(col) - 1) / 2 - i)) for d, col in columns.items() for i, slot in enumerate(col)}
    return Layout({n.name: pos[n.name] for n in graph.nodes},
                  {edge: [pos[slot] for slot in chain] for edge, chain in chains.items()})


def z_value(a, b):
    """z(a, b) = log(b) / (1 + exp(a²) + b²), the function of Part 1 (elementwise on arrays)."""
    return np.log(b) / (1.0 + np.exp(np.square(a)) + np.square(b))


def graph_from_nodes(nodes: dict, a, b) -> tuple[Graph, Node]:
    """Record the graph described by ``nodes`` ``{name: (op, [parents])}`` at the inputs ``a``, ``b``; parents are
    other names (in any order), ``"a"``, ``"b"`` or numbers (constants). Returns the graph and its node ``"z"``."""
    from . import checks

    if not isinstance(nodes, dict) or "z" not in nodes:
        checks._fail(f"the graph must be a dict of nodes {{name: (op, [parents])}} with a node 'z', got {nodes!r:.120}")
    for name, spec in nodes.items():
        if not (isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[1], (tuple, list))):
            checks._fail(f"node {name!r} must be (op, [parents]), got {spec!r:.80}")
        op, parents = spec
        if op not in PRIMITIVES:
            checks._fail(f"node {name!r}: unknown operation {op!r}; the primitives are {sorted(PRIMITIVES)}")
        if ARITY[op] is not None and len(parents) != ARITY[op]:
            checks._fail(f"node {name!r}: {op} takes {ARITY[op]} input(s), got {len(parents)}")
        if op == "sum" and len(parents) < 2:
            checks._fail(f"node {name!r}: sum takes at least two inputs")
        for p in parents:
            if not (_is_number(p) or p in ("a", "b") or p in nodes):
                checks._fail(f"node {name!r}: parent {p!r} is neither 'a', 'b', a number nor a node of the graph")
    g = Graph()
    made = {"a": g.input("a", a, "$a$"), "b": g.input("b", b, "$b$")}

    def make(name, path=()):
        """Record node ``name`` after its parents."""
        if name in made:
            return made[name]
        if name in path:
            checks._fail(f"the graph has a cycle through {' -> '.join(map(str, (*path, name)))}")
        op, parents = nodes[name]
        inputs = [g.constant(float(p), name=f"{name}:const{i}") if _is_number(p) else make(p, (*path, name))
                  for i, p in enumerate(parents)]
        made[name] = g.apply(op, *inputs, name=str(name),
                             label=f"{name} = {op}({', '.join(str(p) for p in parents)})")
        return made[name]

    for name in nodes:
        make(name)
    return g, made["z"]


def _is_number(p) -> bool:
    """Whether a parent is a constant."""
    return isinstance(p, (int, float)) and not isinstance(p, bool)


def check_nodes(nodes: dict, n: int = 50, seed: int = 0) -> None:
    """Check that the graph ``nodes`` evaluates to z(a, b) at ``n`` random points."""
    from . import checks
    from .data import points_ab

    a, b = points_ab(n, seed=seed)
    _, z = graph_from_nodes(nodes, a, b)
    checks.close(z.value, z_value(a, b), f"the value of your graph's node 'z' at {n} random points (a, b)",
                 rtol=1e-12)


def _signature(nodes: dict, parent) -> str:
    """A name-free description of ``parent``: its operation and, recursively, its parents (unordered for sum)."""
    if _is_number(parent):
        return f"{float(parent):g}"
    if parent in ("a", "b"):
        return parent
    op, parents = nodes[parent]
    args = [_signature(nodes, p) for p in parents]
    return f"{op}({', '.join(sorted(args) if op == 'sum' else args)})"


def check_same_graph(nodes: dict, expected: dict) -> None:
    """Check that ``nodes`` has the nodes of ``expected``, each with the same operation and parents, whatever their
    names (no node more, none less)."""
    from . import checks

    graph_from_nodes(nodes, 1.0, 2.0)  # well formed
    got = sorted(_signature(nodes, k) for k in nodes)
    want = sorted(_signature(expected, k) for k in expected)
    missing = [w for w in want if w not in got]
    extra = [x for x in got if x not in want]
    if missing or extra or len(got) != len(want):
        checks._fail(f"your graph has {len(got)} nodes, the expected one {len(want)}; "
                     f"not expected: {extra[:3]}; missing: {len(missing)} node(s)")


def _random_inputs(op: str, n: int | None, rng) -> tuple:
    """Random inputs for a primitive: one value each when ``n`` is None, else arrays of length n."""
    size = None if n is None else n
    k = 3 if op == "sum" else ARITY[op]
    lo = 0.1 if op in ("log", "div") else -2.0
    return tuple(rng.uniform(lo, 3.0, size=size) for _ in range(k))


def check_rule(op: str, rule, n: int | None = None, seed: int = 0) -> None:
    """Check a backward rule against torch.autograd at random inputs and output adjoints."""
    from . import checks, reference

    rng = np.random.default_rng(seed)
    inputs = _random_inputs(op, n, rng)
    g = rng.uniform(-2.0, 2.0, size=None if n is None else n)
    out = PRIMITIVES[op](*inputs)
    name = f"{getattr(rule, '__name__', op)} at {'one point' if n is None else f'{n} points'}"
    got = rule(tuple(inputs), out, g)
    if not isinstance(got, (tuple, list)) or len(got) != len(inputs):
        raise checks.CheckFailed(f"{name}: must return a tuple with one adjoint per input "
                                 f"({len(inputs)}), got {got!r:.80}")
    expected = reference.torch_backward(op, inputs, g)
    for i, (gi, ei) in enumerate(zip(got, expected)):
        if n is None:
            checks.close(gi, float(ei), f"{name}, adjoint of input {i}", rtol=1e-10, atol=1e-14)
        else:
            checks.close(gi, ei, f"{name}, adjoint of input {i}", rtol=1e-10, atol=1e-14)


def check_engine(rules: dict, n: int | None = None, seed: int = 0) -> None:
    """Check z and its gradients computed with ``rules`` against torch.autograd at random points."""
    from . import checks, reference
    from .data import points_ab

    a, b = points_ab(1 if n is None else n, seed=seed)
    if n is None:
        a, b = float(a[0]), float(b[0])
    z, dz_da, dz_db = reference.z_and_gradients(a, b, rules)
    ez, ea, eb = reference.torch_z_and_gradients(a, b)
    where = f"at (a, b) = ({a:.4g}, {b:.4g})" if n is None else f"at {n} random points"
    conv = (lambda v: float(v)) if n is None else (lambda v: v)
    checks.close(z, conv(ez), f"z {where}", rtol=1e-10)
    checks.close(dz_da, conv(ea), f"dz/da {where}", rtol=1e-9, atol=1e-15)
    checks.close(dz_db, conv(eb), f"dz/db {where}", rtol=1e-9, atol=1e-15)
