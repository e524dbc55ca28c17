"""The gateway's read models, one module each: the tables it owns and the SQL that writes them.
`projector.ROUTES` says which topic feeds which; `inbound.READS` which inbound event type."""
