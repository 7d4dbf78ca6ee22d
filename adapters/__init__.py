"""Plumbing that decides nothing: stores and links behind the Protocols the deciding rooms define."""
