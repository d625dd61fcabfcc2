"""The shared domain, the bottom layer: typed frozen messages, the site model, incidents and the audit chain.

Pure values and their validation; it imports nothing of ours, so every layer above may use it
(docs/architecture.md has the order).
"""
