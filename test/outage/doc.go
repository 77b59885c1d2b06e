// Package outage tests what happens to pushes while the metadata database
// is down: DynamoDB Local, PostgreSQL or MariaDB is stopped in the middle
// of a run and started again, with the store failing closed and failing
// open. It runs inside the test command's private network namespace, next
// to DynamoDB Local, and starts servers of its own with
// scripts/dynamodb-local.sh (Java), scripts/postgres.sh and
// scripts/mariadb.sh.
package outage
