// Package outage tests what happens to pushes while the metadata store is
// down: DynamoDB Local is stopped in the middle of a run and started again.
// It runs inside the test command's private network namespace, next to
// DynamoDB Local, and needs scripts/dynamodb-local.sh and Java.
package outage
