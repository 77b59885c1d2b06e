// Package sqlinject sends SQL injection through every parameter of the
// records API (GET /api/v1/pushes and the endpoints under
// /api/v1/pushes/{id} and /api/v1/repositories/{name}/manifests/{digest})
// to a server on each SQL metadata store (PostgreSQL and MariaDB, the
// servers `make test` starts with scripts/postgres.sh and
// scripts/mariadb.sh). Every answer must be a 4xx or an empty result,
// quick (no injected sleep ran), and free of database error text; and
// afterwards the records table must hold exactly the records pushed.
package sqlinject
