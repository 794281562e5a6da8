package lint

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// ------------------------------ The rule --------------------------------------
//
// STYLE.md guideline 2: actors and protocol code get the time from an
// injected Clock and randomness from a seeded *rand.Rand, so that retry,
// jitter, TTL and GC back-off are tested without sleeping and chaos runs
// replay. This test is the forbidigo linter the guide asks for, without a
// binary to install: it parses every non-test .go file under the checked
// folders and fails on
//
//   - time.Now, time.Since, time.Until (they read the wall clock);
//   - any package-level function of math/rand or math/rand/v2 other than
//     the constructors (rand.Intn, rand.Int64, rand.Shuffle, rand.Seed...
//     use the global, unseeded source); types such as *rand.Rand and the
//     constructors rand.New, rand.NewPCG, rand.NewSource are fine.
//
// The check is syntactic (go/parser, no type checking): a selector x.Sel is
// a use of a package when x is the name that file imports the package as
// and x is not a local declaration shadowing it.

// checkedDirs are the folders, relative to the module root, whose code
// must use the injected clock and rand.
var checkedDirs = []string{"actors", "protocol"}

// exempt are files allowed to break the rule, with the reason. Keep it
// short: each entry is a place where the real world comes in.
var exempt = map[string]string{
	"actors/clock.go": "SystemClock is the real clock every other Clock wraps",
}

// bannedTime are the functions of package time that read the wall clock.
var bannedTime = map[string]bool{"Now": true, "Since": true, "Until": true}

// randAllowed are the names of math/rand and math/rand/v2 that do not touch
// the global source: constructors and types.
var randAllowed = map[string]bool{
	// constructors
	"New": true, "NewSource": true, "NewZipf": true, "NewPCG": true, "NewChaCha8": true,
	// types
	"Rand": true, "Source": true, "Source64": true, "Zipf": true, "PCG": true, "ChaCha8": true,
}

// violation is one banned use.
type violation struct {
	pos  token.Position
	what string
}

func (v violation) String() string { return fmt.Sprintf("%s: %s", v.pos, v.what) }

// check returns the banned uses in one parsed file.
func check(fset *token.FileSet, f *ast.File) []violation {
	// The names this file imports time and math/rand under.
	kind := map[string]string{} // local name -> "time" | "rand"
	var out []violation
	for _, imp := range f.Imports {
		path, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			continue
		}
		var k, name string
		switch path {
		case "time":
			k, name = "time", "time"
		case "math/rand", "math/rand/v2":
			k, name = "rand", "rand"
		default:
			continue
		}
		if imp.Name != nil {
			name = imp.Name.Name
		}
		switch name {
		case "_":
			continue
		case ".":
			out = append(out, violation{fset.Position(imp.Pos()),
				fmt.Sprintf("dot import of %q hides which functions are used", path)})
			continue
		}
		kind[name] = k
	}
	if len(kind) == 0 {
		return out
	}
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok || x.Obj != nil { // x.Obj != nil: a local name shadows the import
			return true
		}
		switch kind[x.Name] {
		case "time":
			if bannedTime[sel.Sel.Name] {
				out = append(out, violation{fset.Position(sel.Pos()),
					fmt.Sprintf("%s.%s reads the wall clock: take now from the caller or the injected Clock",
						x.Name, sel.Sel.Name)})
			}
		case "rand":
			if !randAllowed[sel.Sel.Name] {
				out = append(out, violation{fset.Position(sel.Pos()),
					fmt.Sprintf("%s.%s uses the global math/rand source: use the injected, seeded *rand.Rand",
						x.Name, sel.Sel.Name)})
			}
		}
		return true
	})
	return out
}

// moduleRoot walks up from the test's directory to go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("lint: go.mod not found above the test directory")
		}
		dir = parent
	}
}

// TestNoWallClockOrGlobalRand is the rule, over the real source tree.
func TestNoWallClockOrGlobalRand(t *testing.T) {
	root := moduleRoot(t)
	for rel := range exempt {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel))); err != nil {
			t.Errorf("lint: exempt file %s: %v (remove it from the exempt list)", rel, err)
		}
	}
	fset := token.NewFileSet()
	var found []violation
	files := 0
	for _, d := range checkedDirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() {
				if name := e.Name(); name == "testdata" || (path != filepath.Join(root, d) &&
					(strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_"))) {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			if _, ok := exempt[filepath.ToSlash(rel)]; ok {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			files++
			found = append(found, check(fset, f)...)
			return nil
		})
		if err != nil {
			t.Fatalf("lint: walking %s: %v", d, err)
		}
	}
	if files == 0 {
		t.Fatalf("lint: no Go files found under %v: is the module root right (%s)?", checkedDirs, root)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].String() < found[j].String() })
	for _, v := range found {
		// Print paths relative to the root so the report reads the same anywhere.
		if rel, err := filepath.Rel(root, v.pos.Filename); err == nil {
			v.pos.Filename = filepath.ToSlash(rel)
		}
		t.Errorf("%s", v)
	}
}

// TestCheck pins what the checker catches and what it lets through.
func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // the "what" texts' leading selectors, in order
	}{
		{"time.Now", `package p; import "time"; var _ = time.Now()`, []string{"time.Now"}},
		{"time.Since and Until", `package p; import "time"
			func f(t time.Time) { _ = time.Since(t); _ = time.Until(t) }`, []string{"time.Since", "time.Until"}},
		{"other time functions are fine", `package p; import "time"
			var _ = time.Duration(1) * time.Second; var _ = time.Unix(0, 0)`, nil},
		{"renamed time import", `package p; import clk "time"; var _ = clk.Now`, []string{"clk.Now"}},
		{"method named Now is fine", `package p; import "time"
			type C struct{}; func (C) Now() time.Time { return time.Time{} }; var _ = C{}.Now()`, nil},
		{"shadowed package name is fine", `package p; import "time"
			type c struct{}; func (c) Now() int { return 0 }
			func f() { time := c{}; _ = time.Now() }`, nil},
		{"global math/rand", `package p; import "math/rand"
			var _ = rand.Intn(3); func f(s []int) { rand.Shuffle(len(s), nil); rand.Seed(1) }`,
			[]string{"rand.Intn", "rand.Shuffle", "rand.Seed"}},
		{"global math/rand/v2", `package p; import "math/rand/v2"
			var _ = rand.IntN(3); var _ = rand.Int64(); var _ = rand.N(10)`,
			[]string{"rand.IntN", "rand.Int64", "rand.N"}},
		{"function value counts too", `package p; import "math/rand/v2"; var f = rand.Float64`,
			[]string{"rand.Float64"}},
		{"seeded rand is fine", `package p; import "math/rand/v2"
			type Q struct{ R *rand.Rand }
			var q = Q{R: rand.New(rand.NewPCG(1, 2))}; var _ = q.R.IntN(3); var _ rand.Source = rand.NewChaCha8([32]byte{})`, nil},
		{"seeded v1 rand is fine", `package p; import "math/rand"
			var r = rand.New(rand.NewSource(1)); var _ = r.Intn(3)`, nil},
		{"dot import", `package p; import . "math/rand"; var _ = Intn(3)`, []string{"dot import"}},
		{"blank import", `package p; import _ "math/rand"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, "x.go", tt.src, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := check(fset, f)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d violations %v, want %d %v", len(got), got, len(tt.want), tt.want)
			}
			for i, v := range got {
				if !strings.HasPrefix(v.what, tt.want[i]) {
					t.Errorf("violation %d = %q, want it to start with %q", i, v.what, tt.want[i])
				}
			}
		})
	}
}
