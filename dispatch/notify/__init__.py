"""Telling people: the transactional outbox, its delivery worker and the channels."""
