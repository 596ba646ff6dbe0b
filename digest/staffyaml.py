"""YAML that staff write (feeds.yaml, per-issue overrides): the safe loader, with a bound.

`load_yaml(text)` returns the node tree (it has the lines) and the values from one parse,
or raises yaml.YAMLError. Anchors and aliases stay allowed (one list of categories shared by
several sources is fair use), but a document standing for more than MAX_VALUES values once
its aliases are written out is refused, and so is one nested past Python's recursion limit.
"""

from __future__ import annotations

from typing import Any

import yaml

# Why a bound: PyYAML shares an aliased node instead of copying it, so eight levels of
# `b: [*a, *a, ...]` load in a millisecond yet stand for 43 million strings, which the
# checks walk and the error messages print. A real feeds.yaml has a few hundred values.
MAX_VALUES = 100_000


class TooLarge(yaml.YAMLError):
    """The document is valid YAML but stands for too much once its aliases are expanded."""


def load_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """(node tree or None for an empty document, its values); yaml.YAMLError when refused."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        if expanded_size(node, {}) > MAX_VALUES:
            raise TooLarge(
                f"it stands for more than {MAX_VALUES:,} values once its aliases (*) are"
                " expanded: write the values out, or share smaller ones"
            )
        return node, loader.construct_document(node)
    except RecursionError as exc:
        raise TooLarge("it is nested too deeply") from exc
    finally:
        loader.dispose()


def expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes `node` stands for with every alias written out (memoized in `sizes`)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = MAX_VALUES + 1  # until known: an alias to itself (a cycle) is too large
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]
    size = 1 + sum(expanded_size(child, sizes) for child in children)
    sizes[id(node)] = size
    return size
