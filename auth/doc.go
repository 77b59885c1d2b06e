// Package auth is imagegate's access control: the Docker registry token
// service (/auth/token), the access controller that verifies its tokens on
// every registry request, the identities behind them (htpasswd users), and
// role-based permissions on repository patterns.
//
// Flow: a client hits /v2/ and gets 401 with a Bearer challenge naming the
// realm, service and scope; it asks the token service with its credentials;
// the service authenticates it, intersects the scope it asked for with what
// its roles allow, and signs a short-lived JWT listing the granted access;
// the access controller verifies that JWT (signature, kid, algorithm,
// issuer, audience, expiry) and the access it lists on every request.
package auth
