"""The whole package's shape: no import cycle anywhere in wampchat (imports inside functions count too), and
each layer imports only from the layers below it (the README's picture)."""
from importgraph import cycle_in, import_graph

FACES = ("wampchat", "wampchat.router", "wampchat.storage", "wampchat.storage.chat", "wampchat.chat",
         "wampchat.amqp")

# layer -> what it must never import: the router knows no chat, storage or bridge; storage no WAMP session,
# chat service or bridge; the chat service no transport, web or bridge; the web port only the router
FORBIDDEN = {
    "wampchat.router": ("wampchat.chat", "wampchat.storage", "wampchat.amqp", "wampchat.web", "wampchat.tap",
                        "wampchat.node"),
    "wampchat.storage": ("wampchat.chat", "wampchat.amqp", "wampchat.web", "wampchat.tap", "wampchat.node",
                         "wampchat.router.session", "wampchat.router.transports", "wampchat.router.realm"),
    "wampchat.chat": ("wampchat.amqp", "wampchat.web", "wampchat.tap", "wampchat.node", "wampchat.router.transports",
                      "wampchat.router.session"),
    "wampchat.web": ("wampchat.chat", "wampchat.storage", "wampchat.amqp", "wampchat.tap", "wampchat.node"),
}


def test_no_import_cycle_in_the_package():
    graph = import_graph(faces=FACES)
    assert "wampchat.chat.service" in graph and "wampchat.storage.chat.sends" in graph
    assert cycle_in(graph) == []


def test_each_layer_imports_only_what_lies_below_it():
    graph = import_graph(faces=FACES)
    wrong = sorted((module, imported) for module, imports in graph.items() for layer, banned in FORBIDDEN.items()
                   if module.startswith(layer + ".") for imported in imports if imported.startswith(banned))
    assert wrong == []
