"""MQTT topic filter matching, as the broker does it, so a topic finds the decoder that subscribed to it."""

from __future__ import annotations


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` matches ``topic_filter`` under MQTT rules.

    ``+`` matches exactly one level (which may be empty), ``#`` (last level only) matches the parent level and
    everything below it, and wildcards at the first level never match topics starting with ``$`` (MQTT 3.1.1
    section 4.7.2: ``$SYS/...`` is the broker's own).
    """
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return index == len(filter_levels) - 1
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)
