"""Security auditing over the logs in Loki: hash-chain verification of audit and security records."""
