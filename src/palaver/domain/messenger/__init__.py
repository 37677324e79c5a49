"""Messenger domain: chats, roles and rights, messages and entities, update boxes, invites, search.

Pure and synchronous: no I/O, no clock reads. Time is passed in as ``now`` (Unix seconds).
"""
