"""What tierwatch's HTTP surfaces share (ingest, and the worker's ops API): problem
details (RFC 9457) and the credentials check."""
