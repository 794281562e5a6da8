package config

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ---------------------------------------------------------------- Errors ----

// ParseError is a fatal problem in a configuration file. Its Error text is
// Disque's own, line and all:
//
//	*** FATAL CONFIG FILE ERROR ***
//	Reading the configuration file, at line 3
//	>>> 'port 99999'
//	Invalid port
//
// For a line of an included file the second line names that file.
type ParseError struct {
	File     string // the file the line is in; "" when parsing bare text
	Included bool   // File was reached through an include directive
	Line     int    // 1-based line number in File (or in the text)
	Text     string // the line, trimmed of surrounding blanks
	Msg      string // what is wrong with it
}

func (e *ParseError) Error() string {
	where := "Reading the configuration file, at line " + strconv.Itoa(e.Line)
	if e.Included {
		where = "Reading the configuration file " + e.File + ", at line " + strconv.Itoa(e.Line)
	}
	return "*** FATAL CONFIG FILE ERROR ***\n" + where + "\n>>> '" + e.Text + "'\n" + e.Msg
}

// The ParseError messages shared by several directives, Disque's words.
const (
	msgBadDirective = "Bad directive or wrong number of arguments"
	msgUnbalanced   = "Unbalanced quotes in configuration line"
	msgYesNo        = "argument must be 'yes' or 'no'"
)

// Warning is a directive that was accepted but has no effect in godisque,
// such as a Redis leftover (databases) or something godisque deliberately
// does not do (daemonize yes). The server logs warnings at start.
type Warning struct {
	File string // as in ParseError
	Line int    // 0 for warnings about the file as a whole
	Text string // the line
	Msg  string // why it has no effect
}

func (w Warning) String() string {
	switch {
	case w.Line == 0:
		return w.Msg
	case w.File == "":
		return fmt.Sprintf("line %d: '%s': %s", w.Line, w.Text, w.Msg)
	default:
		return fmt.Sprintf("%s:%d: '%s': %s", w.File, w.Line, w.Text, w.Msg)
	}
}

// ErrVersion and ErrHelp are returned by ParseArgs when the command line
// asks for the version (-v, --version) or for usage (-h, --help).
var (
	ErrVersion = errors.New("config: version requested")
	ErrHelp    = errors.New("config: help requested")
)

// ----------------------------------------------------------- Config text ----

// maxIncludeDepth bounds include nesting; include loops are reported before
// it is reached, so it only stops absurdly deep (generated) include trees.
const maxIncludeDepth = 32

// maxFileSize is the largest configuration file read, so that
// "include /dev/zero"-style mistakes fail instead of eating memory.
const maxFileSize = 16 << 20

// Parse reads a configuration in the Redis/Disque format on top of
// Default() and validates the result.
//
// The format: one directive per line, then its arguments; leading and
// trailing blanks are ignored; lines starting with # and blank lines are
// skipped; arguments split as Redis' sdssplitargs does ("double quotes"
// with \n \r \t \a \b \" \\ \xHH escapes, 'single quotes' with \' only);
// directive names are case-insensitive; a later directive overrides an
// earlier one. "include file" reads another file in place, its relative
// path taken from the including file's directory. path names the text for
// that purpose and for error messages ("" or "-": current directory).
//
// The first bad line ends parsing with a *ParseError. Directives with no
// effect in godisque produce Warnings. Unlike Disque's atoi, numbers are
// strict: "10abc" is an error, not 10.
func Parse(text string, path string) (*Config, []Warning, error) {
	p := &parser{cfg: Default(), readFile: readConfigFile}
	return p.run(text, path)
}

// Load reads the configuration the way disque-server starts: the file at
// path ("" = none, "-" = stdin), then the overrides lines from ParseArgs
// appended after it, so that they win.
func Load(path, overrides string, stdin io.Reader) (*Config, []Warning, error) {
	var text string
	var warns []Warning
	switch path {
	case "":
		warns = append(warns, Warning{Msg: "no config file specified, using the default config; to specify one use disque-server /path/to/disque.conf"})
	case "-":
		b, err := io.ReadAll(io.LimitReader(stdin, maxFileSize+1))
		if err != nil {
			return nil, nil, fmt.Errorf("config: reading the config from stdin: %w", err)
		}
		if len(b) > maxFileSize {
			return nil, nil, fmt.Errorf("config: the config on stdin is larger than %d bytes", maxFileSize)
		}
		text = string(b)
	default:
		b, err := readConfigFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("config: can't open config file '%s': %w", path, err)
		}
		text = string(b)
	}
	if overrides != "" {
		text += "\n" + overrides
	}
	c, w, err := Parse(text, path)
	return c, append(warns, w...), err
}

type parser struct {
	cfg      *Config
	warnings []Warning
	readFile func(path string) ([]byte, error)
	stack    []string // absolute paths of the files being read, outermost first
}

func (p *parser) run(text, path string) (*Config, []Warning, error) {
	if path != "" && path != "-" {
		p.stack = append(p.stack, absPath(path))
	}
	if err := p.parseText(text, path, false); err != nil {
		return nil, p.warnings, err
	}
	if err := p.cfg.Validate(); err != nil {
		return nil, p.warnings, err
	}
	return p.cfg, p.warnings, nil
}

// parseText applies every line of text, which comes from file.
func (p *parser) parseText(text, file string, included bool) error {
	for i, raw := range strings.Split(text, "\n") {
		line := strings.Trim(raw, " \t\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		fail := func(msg string) error {
			return &ParseError{File: file, Included: included, Line: i + 1, Text: line, Msg: msg}
		}
		argv, err := splitArgs(line)
		if err != nil {
			return fail(msgUnbalanced)
		}
		if len(argv) == 0 {
			continue
		}
		name, args := strings.ToLower(argv[0]), argv[1:]
		if name == "include" {
			if len(args) != 1 {
				return fail(msgBadDirective)
			}
			if err := p.include(file, args[0]); err != nil {
				var pe *ParseError
				if errors.As(err, &pe) {
					return err // a line of the included file: report it
				}
				return fail(err.Error())
			}
			continue
		}
		prm, ok := paramsByName[name]
		if !ok || len(args) < prm.minArgs || (prm.maxArgs >= 0 && len(args) > prm.maxArgs) {
			return fail(msgBadDirective)
		}
		warn, err := prm.load(p.cfg, args)
		if err != nil {
			return fail(err.Error())
		}
		if warn != "" {
			p.warnings = append(p.warnings, Warning{File: file, Line: i + 1, Text: line, Msg: warn})
		}
	}
	return nil
}

// include reads the file named by an include directive of from.
func (p *parser) include(from, name string) error {
	if name == "" {
		return errors.New("include needs a file name")
	}
	path := name
	if !filepath.IsAbs(path) && from != "" && from != "-" {
		path = filepath.Join(filepath.Dir(from), path)
	}
	abs := absPath(path)
	for _, f := range p.stack {
		if f == abs {
			return fmt.Errorf("include loop: %s includes itself", strings.Join(append(p.stack, abs), " -> "))
		}
	}
	if len(p.stack) >= maxIncludeDepth {
		return fmt.Errorf("includes nested deeper than %d files", maxIncludeDepth)
	}
	b, err := p.readFile(path)
	if err != nil {
		return fmt.Errorf("Can't open the include file '%s': %v", path, err)
	}
	p.stack = append(p.stack, abs)
	defer func() { p.stack = p.stack[:len(p.stack)-1] }()
	return p.parseText(string(b), path, true)
}

// absPath is path made absolute and clean, for include-loop detection.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return filepath.Clean(path)
}

// readConfigFile reads a regular file of at most maxFileSize bytes.
func readConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	return b, nil
}

// ---------------------------------------------------------- Command line ----

// ParseArgs reads disque-server's command line (without the program name):
//
//	disque-server [config-file] [--name value ...]
//
// The first argument is the config file unless it starts with "--"; "-"
// means standard input (configPath is then "-"). Every "--name v1 v2"
// becomes the line "name v1 v2" of overrides, to be parsed after the file
// (see Load): "--port 7777" is "port 7777". Values are quoted as needed,
// so "--logfile ”" is `logfile ""`. -v/--version and -h/--help return
// ErrVersion and ErrHelp.
func ParseArgs(args []string) (configPath string, overrides string, err error) {
	if len(args) == 0 {
		return "", "", nil
	}
	switch args[0] {
	case "-v", "--version":
		return "", "", ErrVersion
	case "-h", "--help":
		return "", "", ErrHelp
	case "--test-memory":
		return "", "", errors.New("config: --test-memory is not supported by godisque")
	}
	j := 0
	if !strings.HasPrefix(args[0], "--") {
		configPath, j = args[0], 1
	}
	var b strings.Builder
	for ; j < len(args); j++ {
		a := args[j]
		if name, ok := strings.CutPrefix(a, "--"); ok {
			switch name {
			case "version":
				return "", "", ErrVersion
			case "help":
				return "", "", ErrHelp
			case "":
				return "", "", errors.New("config: empty option name '--'")
			}
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(quoteArg(name))
			continue
		}
		if b.Len() == 0 {
			return "", "", fmt.Errorf("config: argument '%s' does not follow an --option", a)
		}
		b.WriteByte(' ')
		b.WriteString(quoteArg(a))
	}
	return configPath, b.String(), nil
}

// --------------------------------------------------------------- Lexing ----

var errUnbalanced = errors.New("config: unbalanced quotes")

// splitArgs splits a line into arguments exactly as Redis' sdssplitargs:
// blanks separate arguments; "double quotes" understand \xHH, \n, \r, \t,
// \b, \a and \<any char>; 'single quotes' understand only \'; a closing
// quote must be followed by a blank or the end of the line; a quote inside
// an unquoted argument starts a quoted part of the same argument. An
// unterminated quote or a quote followed by a non-blank is an error. As in
// C, a NUL byte ends the line.
func splitArgs(line string) ([]string, error) {
	if k := strings.IndexByte(line, 0); k >= 0 {
		line = line[:k]
	}
	out := []string{}
	i, n := 0, len(line)
	for {
		for i < n && isSpace(line[i]) {
			i++
		}
		if i >= n {
			return out, nil
		}
		var cur []byte
		inq, insq, done := false, false, false
		for !done {
			switch {
			case inq:
				switch {
				case i >= n:
					return nil, errUnbalanced
				case line[i] == '\\' && i+3 < n && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
					cur = append(cur, unhex(line[i+2])<<4|unhex(line[i+3]))
					i += 3
				case line[i] == '\\' && i+1 < n:
					i++
					c := line[i]
					switch c {
					case 'n':
						c = '\n'
					case 'r':
						c = '\r'
					case 't':
						c = '\t'
					case 'b':
						c = '\b'
					case 'a':
						c = '\a'
					}
					cur = append(cur, c)
				case line[i] == '"':
					if i+1 < n && !isSpace(line[i+1]) {
						return nil, errUnbalanced
					}
					done = true
				default:
					cur = append(cur, line[i])
				}
			case insq:
				switch {
				case i >= n:
					return nil, errUnbalanced
				case line[i] == '\\' && i+1 < n && line[i+1] == '\'':
					i++
					cur = append(cur, '\'')
				case line[i] == '\'':
					if i+1 < n && !isSpace(line[i+1]) {
						return nil, errUnbalanced
					}
					done = true
				default:
					cur = append(cur, line[i])
				}
			default:
				if i >= n {
					done = true
					break
				}
				switch line[i] {
				case ' ', '\n', '\r', '\t':
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					cur = append(cur, line[i])
				}
			}
			if i < n {
				i++
			}
		}
		out = append(out, string(cur))
	}
}

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// quoteArg returns s as one argument that splitArgs reads back as s:
// unchanged when it can be, otherwise Quote(s).
func quoteArg(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || r == '"' || r == '\'' || r == '\\'
	}) {
		return s
	}
	return Quote(s)
}

// Quote is Redis' sdscatrepr: s in double quotes, with \\ \" \n \r \t \a \b
// escaped and every other byte outside printable ASCII as \xHH. splitArgs
// reads it back as s; MONITOR prints arguments this way.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		default:
			if c < ' ' || c > '~' {
				fmt.Fprintf(&b, `\x%02x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// ---------------------------------------------------------------- Units ----

// memoryUnits are Redis' memory units; case does not matter.
var memoryUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1000, "kb": 1 << 10,
	"m": 1000 * 1000, "mb": 1 << 20,
	"g": 1000 * 1000 * 1000, "gb": 1 << 30,
}

// ParseMemory reads a byte count the way Redis does: plain bytes or a
// number followed by a unit, case-insensitive: 1k = 1000, 1kb = 1024,
// 1m = 1000000, 1mb = 1048576, 1g = 10^9, 1gb = 2^30, and b = 1. Negative
// and overflowing values are errors.
func ParseMemory(s string) (int64, error) {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	mul, ok := memoryUnits[strings.ToLower(s[i:])]
	if i == 0 || !ok {
		return 0, fmt.Errorf("config: invalid memory value '%s': want bytes or a number with k, kb, m, mb, g or gb", s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > math.MaxInt64/mul {
		return 0, fmt.Errorf("config: memory value '%s' is too large", s)
	}
	return n * mul, nil
}

// FormatMemory writes a byte count as CONFIG REWRITE does: in gb, mb or kb
// when it is a whole multiple of one, else in bytes.
func FormatMemory(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "gb"}, {1 << 20, "mb"}, {1 << 10, "kb"}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}
