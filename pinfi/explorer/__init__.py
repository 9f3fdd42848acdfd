"""PinFi explorer: an indexer of a deployment's events and a read API with a dashboard
(docs/explorer.md). ``pinfi explorer --deployment FILE`` runs both."""
