"""The knowledge graph itself: resolved triples into a networkx MultiDiGraph (one node per entity with
its label, aliases and mention count; one edge per triple with relation, document and sentence),
written as DIR/graph.graphml and DIR/triples.jsonl, and read back by `edgecloud kg query`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import networkx as nx
from rich.console import Console
from rich.table import Table

from edgecloud.cloud.kg_resolve import EntityKey, Resolution

ALIAS_SEPARATOR = "; "


def build_graph(
    triples: list[dict[str, Any]], mentions: Counter[EntityKey], resolution: Resolution
) -> tuple[nx.MultiDiGraph, list[dict[str, Any]]]:
    """The graph and the resolved triples (what triples.jsonl holds)."""
    graph = nx.MultiDiGraph()
    resolved: list[dict[str, Any]] = []
    for triple in triples:
        subject = resolution.of(EntityKey(triple["subject"], triple["subject_label"]))
        obj = resolution.of(EntityKey(triple["object"], triple["object_label"]))
        if subject == obj:
            continue
        for key in (subject, obj):
            if key.name not in graph:
                aliases = sorted(resolution.aliases.get(key, set()))
                graph.add_node(key.name, label=key.label, aliases=ALIAS_SEPARATOR.join(aliases), mentions=0)
        graph.add_edge(
            subject.name,
            obj.name,
            relation=triple["relation"],
            doc_id=triple["doc_id"],
            sentence=triple["sentence"],
            method=triple.get("method", "spacy"),
        )
        resolved.append(
            {
                "subject": subject.name,
                "relation": triple["relation"],
                "object": obj.name,
                "subject_type": subject.label,
                "object_type": obj.label,
                "subject_text": triple["subject"],
                "object_text": triple["object"],
                "doc_id": triple["doc_id"],
                "source": triple["source"],
                "sentence": triple["sentence"],
                "method": triple.get("method", "spacy"),
            }
        )
    for key, count in mentions.items():
        name = resolution.of(key).name
        if name in graph:
            graph.nodes[name]["mentions"] += count
    return graph, resolved


def write_graph(out: Path, graph: nx.MultiDiGraph, triples: list[dict[str, Any]]) -> None:
    nx.write_graphml(graph, out / "graph.graphml")
    with (out / "triples.jsonl").open("w") as handle:
        for triple in triples:
            handle.write(json.dumps(triple) + "\n")


def load_graph(path: Path) -> nx.MultiDiGraph:
    graph = nx.read_graphml(path, force_multigraph=True)
    return graph if isinstance(graph, nx.MultiDiGraph) else nx.MultiDiGraph(graph)


def find_entity(graph: nx.MultiDiGraph, query: str) -> str | None:
    """Exact name, then an alias, then the best-connected name containing the query (case-insensitive)."""
    wanted = query.strip().lower()
    for node in graph.nodes:
        if str(node).lower() == wanted:
            return str(node)
    for node, data in graph.nodes(data=True):
        aliases = str(data.get("aliases", "")).lower().split(ALIAS_SEPARATOR)
        if wanted in aliases:
            return str(node)
    partial = [str(node) for node in graph.nodes if wanted in str(node).lower()]
    return max(partial, key=lambda n: (graph.degree(n), -len(n))) if partial else None


def neighbourhood(graph: nx.MultiDiGraph, node: str) -> dict[str, list[tuple[str, str, int]]]:
    """Outgoing (relation, object, times) and incoming (subject, relation, times), most frequent first."""
    outgoing: Counter[tuple[str, str]] = Counter()
    incoming: Counter[tuple[str, str]] = Counter()
    for _, target, data in graph.out_edges(node, data=True):
        outgoing[(str(data.get("relation")), str(target))] += 1
    for source, _, data in graph.in_edges(node, data=True):
        incoming[(str(source), str(data.get("relation")))] += 1
    return {
        "out": [(a, b, n) for (a, b), n in outgoing.most_common()],
        "in": [(a, b, n) for (a, b), n in incoming.most_common()],
    }


def print_neighbourhood(graph: nx.MultiDiGraph, node: str, console: Console, *, limit: int = 50) -> None:
    data = graph.nodes[node]
    aliases = f", also {data['aliases']}" if data.get("aliases") else ""
    console.print(f"[bold]{node}[/] ({data.get('label')}{aliases}; {data.get('mentions', 0)} mentions)")
    links = neighbourhood(graph, node)
    table = Table("direction", "relation", "neighbour", "neighbour type", "times")
    for relation, target, times in links["out"][:limit]:
        table.add_row("->", relation, target, str(graph.nodes[target].get("label")), str(times))
    for source, relation, times in links["in"][:limit]:
        table.add_row("<-", relation, source, str(graph.nodes[source].get("label")), str(times))
    console.print(table)
