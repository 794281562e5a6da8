// Package lint holds the project's own source checks, written as Go tests
// so that `make test` needs nothing installed beyond Go (STYLE.md
// guideline 2: no time.Now and no global math/rand in actors/ and
// protocol/). It has no code of its own; see lint_test.go.
package lint
