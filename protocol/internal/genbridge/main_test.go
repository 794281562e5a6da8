package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedFileIsCurrent fails when bridge_gen.go was not regenerated
// after a change to the Kind list or to disque.proto.
func TestGeneratedFileIsCurrent(t *testing.T) {
	got, err := generateFiles("../../bridge.go", "../../disque.pb.go")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../bridge_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("protocol/bridge_gen.go is stale: run `go generate ./protocol`")
	}
}

func TestCheckRefusesGaps(t *testing.T) {
	pb := `package protocol
type A struct{}
func (m *A) Marshal() ([]byte, error) { return nil, nil }
type B struct{}
func (m *B) Marshal() ([]byte, error) { return nil, nil }
`
	for _, tc := range []struct {
		name, consts, wantErr string
	}{
		{"missing", "package protocol\nconst (\n\tKindUnknown Kind = 0\n\tKindA Kind = 1\n)\n", "message B has no Kind"},
		{"stray", "package protocol\nconst (\n\tKindA Kind = 1\n\tKindB Kind = 2\n\tKindC Kind = 3\n)\n", "KindC names no message"},
		{"duplicate", "package protocol\nconst (\n\tKindA Kind = 1\n\tKindB Kind = 1\n)\n", "share number 1"},
		{"not a literal", "package protocol\nconst (\n\tKindA Kind = 1\n\tKindB Kind = KindA + 1\n)\n", "must be a literal"},
	} {
		dir := t.TempDir()
		consts, pbPath := filepath.Join(dir, "bridge.go"), filepath.Join(dir, "pb.go")
		if err := os.WriteFile(consts, []byte(tc.consts), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pbPath, []byte(pb), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := generateFiles(consts, pbPath)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
		}
	}
}
