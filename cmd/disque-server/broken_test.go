package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// GODISQUE_CHAOS_BROKEN names a deliberate bug (gateway.Breakage, for the
// chaos playground's own test); a name the server does not know must stop
// it at once rather than start a node that is broken in some other way or
// not at all.
func TestUnknownBreakageRefusesToStart(t *testing.T) {
	cmd := exec.Command(binary(t), "--port", "0", "--dir", t.TempDir())
	cmd.Env = append(os.Environ(), "GODISQUE_CHAOS_BROKEN=lose-everything")
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "unknown breakage") || !strings.Contains(string(out), "lose-everything") {
		t.Fatalf("exit %v, output:\n%s", err, out)
	}
}
