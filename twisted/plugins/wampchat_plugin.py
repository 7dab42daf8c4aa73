"""twistd plugin: ``twistd -n wampchat``. Options and makeService live in wampchat.tap."""
from twisted.application.service import ServiceMaker

wampchat = ServiceMaker(
    "wampchat",
    "wampchat.tap",
    "Real-time chat server and embedded WAMP router",
    "wampchat",
)
