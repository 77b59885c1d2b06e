package dynamodb

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// policyFile is the least-privilege IAM policy documented for this store.
const policyFile = "../../docs/iam/metadata-dynamodb-policy.json"

// TestIAMPolicyMatchesCode: the documented policy grants exactly the
// actions the (non-test) code of the table's users calls (this package
// and fleet/dynamodb, whose items share the table), and Query on each
// index.
func TestIAMPolicyMatchesCode(t *testing.T) {
	var policy struct {
		Statement []struct {
			Effect   string
			Action   []string
			Resource any // a string or a list
		}
	}
	data, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &policy); err != nil {
		t.Fatalf("%s: %v", policyFile, err)
	}
	var granted, resources []string
	for _, st := range policy.Statement {
		if st.Effect != "Allow" {
			t.Errorf("statement with effect %q", st.Effect)
		}
		for _, a := range st.Action {
			granted = append(granted, strings.TrimPrefix(a, "dynamodb:"))
		}
		switch r := st.Resource.(type) {
		case string:
			resources = append(resources, r)
		case []any:
			for _, v := range r {
				resources = append(resources, v.(string))
			}
		}
	}
	slices.Sort(granted)
	granted = slices.Compact(granted)
	if used := actionsUsed(t); !slices.Equal(granted, used) {
		t.Errorf("policy grants %v\nthe code uses   %v", granted, used)
	}
	for _, ix := range indexes {
		if !slices.Contains(resources, "arn:aws:dynamodb:REGION:ACCOUNT_ID:table/TABLE_NAME/index/"+ix.name) {
			t.Errorf("policy does not name index %s", ix.name)
		}
	}
}

// tableUsers are the directories of the packages that call DynamoDB on
// the metadata table.
var tableUsers = []string{".", "../../fleet/dynamodb"}

// actionsUsed lists, sorted, the IAM actions behind the DynamoDB calls in
// the non-test files of tableUsers: s.client.Op(...) and
// dynamodb.NewOpPaginator. TransactWriteItems is authorised per item: this
// store only Puts in them.
func actionsUsed(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range tableUsers {
		matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(matches) == 0 {
			t.Fatalf("Go files in %s: %v", dir, err)
		}
		files = append(files, matches...)
	}
	paginator := regexp.MustCompile(`^New(\w+)Paginator$`)
	asAction := map[string]string{"TransactWriteItems": "PutItem"}
	var used []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			op := ""
			if recv, ok := sel.X.(*ast.SelectorExpr); ok && recv.Sel.Name == "client" {
				op = sel.Sel.Name
			} else if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "dynamodb" {
				if m := paginator.FindStringSubmatch(sel.Sel.Name); m != nil {
					op = m[1]
				}
			}
			if op != "" {
				if a, ok := asAction[op]; ok {
					op = a
				}
				used = append(used, op)
			}
			return true
		})
	}
	slices.Sort(used)
	return slices.Compact(used)
}
