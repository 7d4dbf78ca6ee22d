"""The write side: the eventsourcing Application and one method per command."""
