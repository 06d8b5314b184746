"""helpers.autodiff: the engine computes z and its adjoints; check_rule and check_engine catch wrong rules."""

import numpy as np
import pytest

from helpers import autodiff
from helpers.checks import CheckFailed

RULES = {
    "square": lambda i, out, g: (2 * i[0] * g,),
    "exp": lambda i, out, g: (out * g,),
    "log": lambda i, out, g: (g / i[0],),
    "sum": lambda i, out, g: tuple(g for _ in i),
    "div": lambda i, out, g: (g / i[1], -g * i[0] / i[1] ** 2),
}


def test_z_and_gradients_at_2_3():
    z, da, db = autodiff.z_and_gradients(2.0, 3.0, RULES)
    assert z == pytest.approx(0.017006869207623284, rel=1e-14)
    assert da == pytest.approx(-0.05749660608642549, rel=1e-12)
    assert db == pytest.approx(0.0035804758800201167, rel=1e-12)


def test_graph_records_named_nodes_in_order():
    g, z = autodiff.z_graph(2.0, 3.0)
    assert [n.name for n in g.nodes] == ["a", "b", "v1", "v2", "v3", "one", "v4", "v5", "z"]
    assert g.node("v4").value == pytest.approx(1 + np.exp(4) + 9)
    assert g.depths()["z"] == 4


def test_adjoints_accumulate_over_several_uses():
    g = autodiff.Graph()
    x = g.input("x", 3.0)
    s = g.apply("sum", x, x, name="s")
    adj = g.backward(s, RULES)
    assert adj["x"] == 2.0


def test_engine_works_elementwise_on_arrays():
    a, b = np.array([2.0, 0.5]), np.array([3.0, 1.5])
    z, da, db = autodiff.z_and_gradients(a, b, RULES)
    ez, ea, eb = autodiff.torch_z_and_gradients(a, b)
    np.testing.assert_allclose(da, ea, rtol=1e-12)
    np.testing.assert_allclose(db, eb, rtol=1e-12)


def test_engine_errors_are_clear():
    g, z = autodiff.z_graph(2.0, 3.0)
    with pytest.raises(KeyError, match="no backward rule.*div"):
        g.backward(z, {k: v for k, v in RULES.items() if k != "div"})
    with pytest.raises(ValueError, match="one adjoint per input"):
        g.backward(z, {**RULES, "div": lambda i, out, g: g})
    with pytest.raises(ValueError, match="takes 2 input"):
        g.apply("div", g.node("a"), name="bad")
    with pytest.raises(ValueError, match="unknown primitive"):
        g.apply("sin", g.node("a"), name="bad")


@pytest.mark.parametrize("op", sorted(RULES))
def test_check_rule_passes_right_rules(op):
    autodiff.check_rule(op, RULES[op], seed=0)
    autodiff.check_rule(op, RULES[op], n=10, seed=1)


@pytest.mark.parametrize("op,wrong", [
    ("square", lambda i, out, g: (i[0] * g,)),
    ("exp", lambda i, out, g: (g,)),
    ("log", lambda i, out, g: (1 / i[0],)),
    ("div", lambda i, out, g: (g / i[1], g * i[0] / i[1] ** 2)),
    ("sum", lambda i, out, g: (g,)),
])
def test_check_rule_catches_wrong_rules(op, wrong):
    with pytest.raises(CheckFailed):
        autodiff.check_rule(op, wrong, n=10, seed=1)


def test_check_engine():
    autodiff.check_engine(RULES, seed=0)
    autodiff.check_engine(RULES, n=20, seed=0)
    with pytest.raises(CheckFailed, match="dz/da"):
        autodiff.check_engine({**RULES, "square": lambda i, out, g: (i[0] * g,)}, n=20, seed=0)


def _crossings(layout):
    """(edge, node) pairs where the edge's polyline enters the node's box, the edge's own ends excepted."""
    w, h = autodiff.Layout.BOX
    hits = []
    for (parent, child), line in layout.edges.items():
        for (x0, y0), (x1, y1) in zip(line, line[1:]):
            for t in np.linspace(0, 1, 400):
                x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
                hits += [((parent, child), name) for name, (px, py) in layout.pos.items()
                         if name not in (parent, child) and abs(x - px) < w / 2 and abs(y - py) < h / 2]
    return set(hits)


def test_the_layered_layout_routes_no_edge_through_a_node_box():
    g, _ = autodiff.z_graph(2.0, 3.0)
    layout = autodiff.layered_layout(g)
    assert not _crossings(layout)
    assert len(layout.edges["v3", "v4"]) == 3  # v3 -> v4 skips a column: it bends through a slot of its own
    flat = {name: (x, 0.0) for name, (x, _) in layout.pos.items()}  # every node on one line: v3 -> v4 hits v2
    assert (("v3", "v4"), "v2") in _crossings(autodiff.Layout(flat, {e: [flat[e[0]], flat[e[1]]]
                                                                        for e in layout.edges}))


Z_NODES = {"v1": ("square", ["a"]), "v2": ("exp", ["v1"]), "v3": ("square", ["b"]), "v4": ("sum", [1.0, "v2", "v3"]),
           "v5": ("log", ["b"]), "z": ("div", ["v5", "v4"])}


def test_a_graph_given_as_nodes_is_recorded_and_compared_whatever_the_names():
    g, z = autodiff.graph_from_nodes(Z_NODES, 2.0, 3.0)
    ref, ref_z = autodiff.z_graph(2.0, 3.0)
    assert z.value == ref_z.value and g.backward(z, RULES)["b"] == ref.backward(ref_z, RULES)["b"]
    autodiff.check_nodes(Z_NODES)
    renamed = {"sq": ("square", ["b"]), "lg": ("log", ["b"]), "p": ("square", ["a"]), "e": ("exp", ["p"]),
               "den": ("sum", ["sq", "e", 1]), "z": ("div", ["lg", "den"])}
    autodiff.check_same_graph(renamed, Z_NODES)
    split = {**{k: v for k, v in Z_NODES.items() if k != "z"}, "w": ("sum", [1.0, "v2"]), "v4": ("sum", ["w", "v3"]),
             "z": ("div", ["v5", "v4"])}
    autodiff.check_nodes(split)  # the same function ...
    with pytest.raises(CheckFailed, match="3 nodes|7 nodes"):
        autodiff.check_same_graph(split, Z_NODES)  # ... but not the same graph
    swapped = {**Z_NODES, "z": ("div", ["v4", "v5"])}
    with pytest.raises(CheckFailed):
        autodiff.check_nodes(swapped)
    with pytest.raises(CheckFailed):
        autodiff.check_same_graph(swapped, Z_NODES)


@pytest.mark.parametrize("nodes,message", [
    ([("square", ["a"])], "dict of nodes"),
    ({"v1": ("square", ["a"])}, "node 'z'"),
    ({"z": ("cube", ["a"])}, "unknown operation 'cube'"),
    ({"z": ("div", ["a"])}, "div takes 2 input"),
    ({"z": ("log", ["v9"])}, "parent .v9."),
    ({"z": ("log", ["w"]), "w": ("exp", ["z"])}, "cycle"),
    ({"z": "log(b)"}, "must be \\(op, \\[parents\\]\\)"),
])
def test_malformed_graphs_get_clear_messages(nodes, message):
    with pytest.raises(CheckFailed, match=message):
        autodiff.check_nodes(nodes)
