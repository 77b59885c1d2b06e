package sqlstore

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// fakePostgres accepts connections, negotiates TLS, asks for a cleartext
// password (what RDS does with IAM), records it and refuses the login.
type fakePostgres struct {
	mu        sync.Mutex
	passwords []string
}

func (f *fakePostgres) serve(t *testing.T, l net.Listener, cert tls.Certificate) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			msg, err := pgproto3.NewBackend(c, c).ReceiveStartupMessage()
			if _, ok := msg.(*pgproto3.SSLRequest); err != nil || !ok {
				t.Errorf("first message %T (%v), want an SSLRequest", msg, err)
				return
			}
			if _, err := c.Write([]byte("S")); err != nil {
				return
			}
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
			b := pgproto3.NewBackend(tc, tc)
			if _, err := b.ReceiveStartupMessage(); err != nil {
				return
			}
			b.Send(&pgproto3.AuthenticationCleartextPassword{})
			if b.Flush() != nil || b.SetAuthType(pgproto3.AuthTypeCleartextPassword) != nil {
				return
			}
			msg, err = b.Receive()
			if p, ok := msg.(*pgproto3.PasswordMessage); err == nil && ok {
				f.mu.Lock()
				f.passwords = append(f.passwords, p.Password)
				f.mu.Unlock()
			}
			b.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: "test server refuses every login"})
			_ = b.Flush()
		}()
	}
}

// TestIAMToken: with iamauth, every new connection (the before-connect
// hook) presents an RDS token signed for the configured user, endpoint
// and region, over TLS, never the DSN's password.
func TestIAMToken(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ca := newTestCA(t, t.TempDir(), "ca")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var fake fakePostgres
	go fake.serve(t, l, ca.server)

	c := Config{Driver: Postgres, DSN: "postgres://dsnuser:dsnpass@" + l.Addr().String() + "/ig",
		TLS:     TLS{Mode: "require"},
		IAMAuth: IAMAuth{Enabled: true, Region: "eu-west-1", Endpoint: "mydb.abc.eu-west-1.rds.amazonaws.com:5432", User: "iamuser"},
	}.withDefaults()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	db, err := openPool(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for range 2 {
		if err := db.PingContext(ctx); err == nil || !strings.Contains(err.Error(), "refuses every login") {
			t.Fatalf("Ping: %v, want the test server's refusal", err)
		}
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.passwords) < 2 {
		t.Fatalf("%d passwords received, want one per connection (2)", len(fake.passwords))
	}
	for _, p := range fake.passwords {
		for _, want := range []string{"mydb.abc.eu-west-1.rds.amazonaws.com:5432?Action=connect", "DBUser=iamuser",
			"X-Amz-Credential=AKIDTEST%2F", "eu-west-1%2Frds-db%2Faws4_request", "X-Amz-Signature="} {
			if !strings.Contains(p, want) {
				t.Errorf("token %q lacks %q", p, want)
			}
		}
		if strings.Contains(p, "dsnpass") {
			t.Errorf("the DSN's password was sent: %q", p)
		}
	}
}
