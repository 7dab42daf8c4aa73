"""The chat domain: rooms, messages, presence. Knows nothing about transports."""
