package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fuzzParse parses text with includes served from memory, so that fuzzed
// include lines never touch the file system.
func fuzzParse(text string) (*Config, []Warning, error) {
	files := map[string]string{
		"/a.conf":    "port 7001\ninclude /b.conf\n",
		"/b.conf":    "hz 20\n",
		"/loop.conf": "include /loop.conf\n",
	}
	p := &parser{cfg: Default(), readFile: func(path string) ([]byte, error) {
		if t, ok := files[path]; ok {
			return []byte(t), nil
		}
		return nil, os.ErrNotExist
	}}
	return p.run(text, "/main.conf")
}

// FuzzParse: any text either parses into a valid configuration or fails
// with an error; it never panics. What parses survives a rewrite.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"",
		"port 7711\nbind 127.0.0.1\n",
		"# comment\n\n  maxmemory 3MB  \r\n",
		`requirepass "a b\x41\n"`,
		"requirepass 'it\\'s'",
		"include /a.conf",
		"include /loop.conf",
		"include /nowhere.conf",
		"client-output-buffer-limit normal 1kb 1k 60\nclient-output-buffer-limit pubsub 1 1 1",
		"cluster-seeds [::1]:7711 h:1\ncluster-bus-port 9000\nport 60000",
		"cluster-etcd-endpoints http://[::1]:2379 h:2379 unix:///s\ncluster-etcd-prefix '/a b/'",
		"hz -1\nunixsocketperm 777\nloglevel DEBUG",
		"port \"unbalanced",
		"rename-command a b\ndatabases 3\ndaemonize yes",
		"\x00port 1",
	}
	if b, err := os.ReadFile(filepath.Join("testdata", "disque.conf")); err == nil {
		seeds = append(seeds, string(b))
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, _, err := fuzzParse(text)
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			var pe *ParseError
			if errors.As(err, &pe) && pe.Line < 1 {
				t.Fatalf("bad line number %d", pe.Line)
			}
			return
		}
		if verr := c.Clone().Validate(); verr != nil {
			t.Fatalf("parsed config does not validate: %v", verr)
		}
		_ = c.Get("*")
		// Rewriting the parsed text into itself and parsing it again gives
		// the same configuration (includes aside: they are not followed
		// for this check, so skip texts that use them).
		if strings.Contains(strings.ToLower(text), "include") {
			return
		}
		out := rewriteText(text, c)
		again, _, err := fuzzParse(out)
		if err != nil {
			t.Fatalf("rewritten text does not parse: %v\n--- in:\n%q\n--- out:\n%q", err, text, out)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("rewrite changed the config:\n%+v\n%+v\n--- out:\n%q", c, again, out)
		}
	})
}

// FuzzSplitArgs: the splitter never panics, and quoting any string gives
// an argument that splits back into that very string.
func FuzzSplitArgs(f *testing.F) {
	for _, s := range []string{"", "a b", `"a\x41\n" 'b\'c'`, `"unterminated`, `a"b"c`, "\"\\", "x\x00y", "'", `"a"b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if args, err := splitArgs(s); err == nil {
			// Re-quoting the arguments gives a line that splits the same.
			var line []string
			for _, a := range args {
				line = append(line, quoteArg(a))
			}
			again, err := splitArgs(strings.Join(line, " "))
			if err != nil || !reflect.DeepEqual(again, args) {
				t.Fatalf("%q -> %q -> %q, %v", s, args, again, err)
			}
		}
		if strings.IndexByte(s, 0) >= 0 {
			return // a NUL ends the line, as in C: not representable
		}
		q := quoteArg(s)
		back, err := splitArgs("k " + q)
		if err != nil || len(back) != 2 || back[1] != s {
			t.Fatalf("quoteArg(%q) = %s splits into %q, %v", s, q, back, err)
		}
	})
}

// FuzzMatch: glob matching never panics and a pattern matches itself
// once its special characters are escaped.
func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{{"*", "x"}, {"[a-", "b"}, {"[^", ""}, {"\\", "\\"}, {"a*b*c", "abc"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		Match(pattern, s)
		var esc strings.Builder
		for i := 0; i < len(s); i++ {
			esc.WriteByte('\\')
			esc.WriteByte(s[i])
		}
		if !Match(esc.String(), s) {
			t.Fatalf("escaped %q does not match itself", s)
		}
	})
}
