// Package security holds the attack suite of tapline's HTTP endpoint: it
// starts the real `tapline run` (embedded NATS and ClickHouse engine) as a
// child process and tries each class of attack that once got through,
// read-only and writable, asserting that no answer shows a canary file's
// content, the process environment or the engine's paths, that no file
// outside the data directory changes, and that abandoned or heavy queries
// neither outlive their client nor starve ingestion. Its benchmark measures
// the freshness of ingested records under abusive query load and the
// resident memory during a multi-gigabyte result. The package has no
// non-test code.
package security
