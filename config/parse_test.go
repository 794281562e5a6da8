package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// parseOne parses text and fails the test on error.
func parseOne(t *testing.T, text string) (*Config, []Warning) {
	t.Helper()
	c, w, err := Parse(text, "")
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return c, w
}

// TestParseDirectives loads every directive of SPEC.md §17 (and ours) and
// checks the one field it sets; everything else must stay at its default.
func TestParseDirectives(t *testing.T) {
	tests := []struct {
		line string
		want func(c *Config)
		warn bool
	}{
		{"timeout 300", func(c *Config) { c.Timeout = 300 }, false},
		{"tcp-keepalive 60", func(c *Config) { c.TCPKeepAlive = 60 }, false},
		{"port 7777", func(c *Config) { c.Port = 7777 }, false},
		{"port 0", func(c *Config) { c.Port = 0 }, false},
		{"tcp-backlog 1024", func(c *Config) { c.TCPBacklog = 1024 }, false},
		{"bind 127.0.0.1", func(c *Config) { c.Bind = []string{"127.0.0.1"} }, false},
		{"bind 127.0.0.1 ::1", func(c *Config) { c.Bind = []string{"127.0.0.1", "::1"} }, false},
		{`bind ""`, func(c *Config) {}, false},
		{"unixsocket /tmp/disque.sock", func(c *Config) { c.UnixSocket = "/tmp/disque.sock" }, false},
		{"unixsocketperm 700", func(c *Config) { c.UnixSocketPerm = 0700 }, false},
		{"unixsocketperm 0755", func(c *Config) { c.UnixSocketPerm = 0755 }, false},
		{"dir /var/lib/disque", func(c *Config) { c.Dir = "/var/lib/disque" }, false},
		{"loglevel debug", func(c *Config) { c.LogLevel = LogDebug }, false},
		{"loglevel VERBOSE", func(c *Config) { c.LogLevel = LogVerbose }, false},
		{"loglevel warning", func(c *Config) { c.LogLevel = LogWarning }, false},
		{"logfile /var/log/disque.log", func(c *Config) { c.LogFile = "/var/log/disque.log" }, false},
		{`logfile ""`, func(c *Config) {}, false},
		{"syslog-enabled no", func(c *Config) {}, false},
		{"syslog-enabled yes", func(c *Config) { c.SyslogEnabled = true }, true},
		{"syslog-ident myq", func(c *Config) { c.SyslogIdent = "myq" }, true},
		{"syslog-facility LOCAL3", func(c *Config) { c.SyslogFacility = "local3" }, true},
		{"syslog-facility user", func(c *Config) { c.SyslogFacility = "user" }, true},
		{"databases 4", func(c *Config) { c.Databases = 4 }, true},
		{"maxclients 128", func(c *Config) { c.MaxClients = 128 }, false},
		{"maxmemory 100mb", func(c *Config) { c.MaxMemory = 100 << 20 }, false},
		{"maxmemory 0", func(c *Config) { c.MaxMemory = 0 }, false},
		{"maxmemory-policy noeviction", func(c *Config) { c.MaxMemoryPolicy = PolicyNoEviction }, false},
		{"maxmemory-policy ACKS", func(c *Config) { c.MaxMemoryPolicy = PolicyAcks }, false},
		{"maxmemory-samples 10", func(c *Config) { c.MaxMemorySamples = 10 }, false},
		{"activerehashing no", func(c *Config) { c.ActiveRehashing = false }, false},
		{"daemonize no", func(c *Config) {}, false},
		{"daemonize yes", func(c *Config) { c.Daemonize = true }, true},
		{"hz 100", func(c *Config) { c.Hz = 100 }, false},
		{"hz 0", func(c *Config) { c.Hz = MinHz }, false},
		{"hz -7", func(c *Config) { c.Hz = MinHz }, false},
		{"hz 100000", func(c *Config) { c.Hz = MaxHz }, false},
		{"appendonly yes", func(c *Config) { c.AppendOnly = true }, false},
		{"appendonly YES", func(c *Config) { c.AppendOnly = true }, false},
		{`appendfilename "jobs.aof"`, func(c *Config) { c.AppendFilename = "jobs.aof" }, false},
		{"no-appendfsync-on-rewrite yes", func(c *Config) { c.NoAppendFsyncOnRewrite = true }, false},
		{"appendfsync always", func(c *Config) { c.AppendFsync = FsyncAlways }, false},
		{"appendfsync no", func(c *Config) { c.AppendFsync = FsyncNo }, false},
		{"auto-aof-rewrite-percentage 0", func(c *Config) { c.AutoAOFRewritePercentage = 0 }, false},
		{"auto-aof-rewrite-min-size 1gb", func(c *Config) { c.AutoAOFRewriteMinSize = 1 << 30 }, false},
		{"aof-rewrite-incremental-fsync no", func(c *Config) { c.AOFRewriteIncrementalFsync = false }, false},
		{"aof-load-truncated no", func(c *Config) { c.AOFLoadTruncated = false }, false},
		{"aof-enqueue-jobs-once yes", func(c *Config) { c.AOFEnqueueJobsOnce = true }, false},
		{"requirepass s3cret", func(c *Config) { c.RequirePass = "s3cret" }, false},
		{"pidfile /var/run/disque.pid", func(c *Config) { c.PidFile = "/var/run/disque.pid" }, false},
		{"rename-command CONFIG xyz", func(c *Config) {
			c.RenameCommands = []CommandRename{{From: "CONFIG", To: "xyz"}}
		}, true},
		{"cluster-config-file nodes-7711.conf", func(c *Config) { c.ClusterConfigFile = "nodes-7711.conf" }, false},
		{"cluster-node-timeout 5000", func(c *Config) { c.ClusterNodeTimeout = 5000 }, false},
		{"slowlog-log-slower-than -1", func(c *Config) { c.SlowlogLogSlowerThan = -1 }, false},
		{"latency-monitor-threshold 100", func(c *Config) { c.LatencyMonitorThreshold = 100 }, false},
		{"slowlog-max-len 1024", func(c *Config) { c.SlowlogMaxLen = 1024 }, false},
		{"client-output-buffer-limit normal 1mb 512kb 30", func(c *Config) {
			c.ClientOutputBufferLimit = ClientBufferLimit{HardBytes: 1 << 20, SoftBytes: 512 << 10, SoftSeconds: 30}
		}, false},
		{"client-output-buffer-limit slave 256mb 64mb 60", func(c *Config) {}, true},
		{"client-output-buffer-limit pubsub 32mb 8mb 60", func(c *Config) {}, true},
		{"watchdog-period 500", func(c *Config) { c.WatchdogPeriod = 500 }, false},
		{"cluster-bus-port 8000", func(c *Config) { c.ClusterBusPort = 8000 }, false},
		{"cluster-seeds 10.0.0.1:17711 [::1]:17712", func(c *Config) {
			c.ClusterSeeds = []string{"10.0.0.1:17711", "[::1]:17712"}
		}, false},
		{"cluster-etcd-endpoints http://10.0.0.1:2379 https://etcd.example:2379 [::1]:2379 unix:///run/etcd.sock", func(c *Config) {
			c.ClusterEtcdEndpoints = []string{"http://10.0.0.1:2379", "https://etcd.example:2379", "[::1]:2379", "unix:///run/etcd.sock"}
		}, false},
		{`cluster-etcd-endpoints ""`, func(c *Config) {}, false},
		{"cluster-etcd-prefix /prod/disque/", func(c *Config) { c.ClusterEtcdPrefix = "/prod/disque/" }, false},
		// Directive names are case-insensitive; blanks around are ignored.
		{"  PORT 7000\t", func(c *Config) { c.Port = 7000 }, false},
		{"MaxMemory 2GB", func(c *Config) { c.MaxMemory = 2 << 30 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, warns := parseOne(t, tt.line)
			want := Default()
			tt.want(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if (len(warns) > 0) != tt.warn {
				t.Errorf("warnings = %v, want some: %v", warns, tt.warn)
			}
			for _, w := range warns {
				if w.Line != 1 || w.Msg == "" {
					t.Errorf("bad warning %+v", w)
				}
			}
		})
	}
}

// Every directive of SPEC.md §17 plus ours is known to the parser.
func TestEveryDirectiveKnown(t *testing.T) {
	spec := strings.Fields(`timeout tcp-keepalive port tcp-backlog bind
		unixsocket unixsocketperm dir loglevel logfile syslog-enabled
		syslog-ident syslog-facility databases include maxclients maxmemory
		maxmemory-policy maxmemory-samples activerehashing daemonize hz
		appendonly appendfilename no-appendfsync-on-rewrite appendfsync
		auto-aof-rewrite-percentage auto-aof-rewrite-min-size
		aof-rewrite-incremental-fsync aof-load-truncated
		aof-enqueue-jobs-once requirepass pidfile rename-command
		cluster-config-file cluster-node-timeout slowlog-log-slower-than
		latency-monitor-threshold slowlog-max-len client-output-buffer-limit
		watchdog-period cluster-bus-port cluster-seeds
		cluster-etcd-endpoints cluster-etcd-prefix pprof`)
	for _, name := range spec {
		if name == "include" {
			continue // handled by the parser itself
		}
		if paramsByName[name] == nil {
			t.Errorf("directive %s unknown", name)
		}
	}
	if len(params) != len(spec)-1 {
		t.Errorf("%d params, %d directives in SPEC", len(params), len(spec)-1)
	}
}

func TestParseLaterWinsAndComments(t *testing.T) {
	c, _ := parseOne(t, "# a comment\n\n   # indented comment\nport 1000\r\nport 2000\n\t\nbind a b\nbind c\n")
	if c.Port != 2000 || !reflect.DeepEqual(c.Bind, []string{"c"}) {
		t.Errorf("port %d bind %v", c.Port, c.Bind)
	}
}

// TestParseErrors checks the fatal errors: Disque's text, the line number
// and the offending line.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		text string
		line int
		msg  string
	}{
		{"nosuchdirective 1", 1, "Bad directive or wrong number of arguments"},
		{"port", 1, "Bad directive or wrong number of arguments"},
		{"port 1 2", 1, "Bad directive or wrong number of arguments"},
		{"# c\n\nport 99999", 3, "Invalid port"},
		{"port abc", 1, "Invalid port"},
		{"port 10abc", 1, "Invalid port"},
		{"timeout -1", 1, "Invalid timeout value"},
		{"tcp-keepalive -1", 1, "Invalid tcp-keepalive value"},
		{"tcp-backlog -1", 1, "Invalid backlog value"},
		{"unixsocketperm 800", 1, "Invalid socket file permissions"},
		{"unixsocketperm 1000", 1, "Invalid socket file permissions"},
		{"loglevel loud", 1, "Invalid log level. Must be one of debug, verbose, notice, warning"},
		{"syslog-enabled maybe", 1, "argument must be 'yes' or 'no'"},
		{"syslog-facility kern", 1, "Invalid log facility. Must be one of USER or between LOCAL0-LOCAL7"},
		{"databases 0", 1, "Invalid number of databases"},
		{"maxclients 0", 1, "Invalid max clients limit"},
		{"maxmemory -1", 1, "Invalid maxmemory value"},
		{"maxmemory 1tb", 1, "Invalid maxmemory value"},
		{"maxmemory-policy volatile-lru", 1, "Invalid maxmemory policy"},
		{"maxmemory-samples 0", 1, "maxmemory-samples must be 1 or greater"},
		{"activerehashing 1", 1, "argument must be 'yes' or 'no'"},
		{"daemonize on", 1, "argument must be 'yes' or 'no'"},
		{"hz fast", 1, "Invalid hz value"},
		{"appendonly true", 1, "argument must be 'yes' or 'no'"},
		{"appendfilename dir/x.aof", 1, "appendfilename can't be a path, just a filename"},
		{"appendfsync sometimes", 1, "argument must be 'no', 'always' or 'everysec'"},
		{"auto-aof-rewrite-percentage -1", 1, "Invalid negative percentage for AOF auto rewrite"},
		{"auto-aof-rewrite-min-size lots", 1, "Invalid auto-aof-rewrite-min-size value"},
		{"requirepass " + strings.Repeat("x", 513), 1, "Password is longer than 512 characters"},
		{"rename-command CONFIG", 1, "Bad directive or wrong number of arguments"},
		{`cluster-config-file ""`, 1, "cluster-config-file can't be empty"},
		{"cluster-node-timeout 0", 1, "cluster node timeout must be 1 or greater"},
		{"latency-monitor-threshold -1", 1, "The latency threshold can't be negative"},
		{"slowlog-max-len -1", 1, "Invalid slowlog-max-len value"},
		{"client-output-buffer-limit normal 0 0", 1, "Bad directive or wrong number of arguments"},
		{"client-output-buffer-limit weird 0 0 0", 1, "Unrecognized client limit class"},
		{"client-output-buffer-limit normal 0 0 -1", 1, "Negative number of seconds in soft limit is invalid"},
		{"client-output-buffer-limit normal x 0 1", 1, "Invalid memory limit in client-output-buffer-limit"},
		{"watchdog-period -1", 1, "Invalid watchdog-period value"},
		{"cluster-bus-port 70000", 1, "Invalid cluster-bus-port"},
		{"cluster-seeds nohost", 1, `seed "nohost" must be host:port`},
		{"cluster-seeds h:0", 1, `seed "h:0" has an invalid port`},
		{"cluster-etcd-endpoints", 1, "Bad directive or wrong number of arguments"},
		{"cluster-etcd-endpoints h:1 ftp://h:2", 1, `etcd endpoint "ftp://h:2" must be http://host:port, https://host:port or host:port`},
		{"cluster-etcd-endpoints http://h", 1, `etcd endpoint "http://h" must be http://host:port, https://host:port or host:port`},
		{"cluster-etcd-endpoints http://h:2379/x", 1, `etcd endpoint "http://h:2379/x" has an invalid port`},
		{"cluster-etcd-endpoints h:0", 1, `etcd endpoint "h:0" has an invalid port`},
		{"cluster-etcd-endpoints unix://", 1, `etcd endpoint "unix://" has no socket path`},
		{`cluster-etcd-prefix ""`, 1, "cluster-etcd-prefix can't be empty"},
		{"cluster-etcd-prefix a b", 1, "Bad directive or wrong number of arguments"},
		{"pprof 6060", 1, `pprof address "6060" must be host:port`},
		{"pprof 127.0.0.1:0", 1, `pprof address "127.0.0.1:0" has an invalid port`},
		{"pprof 127.0.0.1:x", 1, `pprof address "127.0.0.1:x" has an invalid port`},
		{"bind " + strings.Repeat("a ", 17), 1, "Bad directive or wrong number of arguments"},
		{`requirepass "unterminated`, 1, "Unbalanced quotes in configuration line"},
		{`requirepass "a"b`, 1, "Unbalanced quotes in configuration line"},
		{"include", 1, "Bad directive or wrong number of arguments"},
		{`dir ""`, 1, "dir can't be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			_, _, err := Parse(tt.text, "disque.conf")
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *ParseError", err)
			}
			lines := strings.Split(tt.text, "\n")
			if pe.Line != tt.line || pe.Msg != tt.msg || pe.Text != strings.TrimSpace(lines[tt.line-1]) {
				t.Errorf("got line %d text %q msg %q", pe.Line, pe.Text, pe.Msg)
			}
			want := "*** FATAL CONFIG FILE ERROR ***\nReading the configuration file, at line " +
				strconv.Itoa(tt.line) + "\n>>> '" + pe.Text + "'\n" + tt.msg
			if err.Error() != want {
				t.Errorf("Error() = %q\nwant      %q", err.Error(), want)
			}
		})
	}
}

// Validation after parsing: a port whose bus port would not exist.
func TestParseValidates(t *testing.T) {
	_, _, err := Parse("port 55536", "")
	if err == nil || !strings.Contains(err.Error(), "port 55536 is too high") {
		t.Fatalf("err = %v", err)
	}
	c, _ := parseOne(t, "port 55536\ncluster-bus-port 7000")
	if c.BusPort() != 7000 {
		t.Errorf("bus port %d", c.BusPort())
	}
	c, _ = parseOne(t, "port 55535")
	if c.BusPort() != 65535 {
		t.Errorf("bus port %d", c.BusPort())
	}
	if _, _, err := Parse("port 7000\ncluster-bus-port 7000", ""); err == nil {
		t.Errorf("bus port = client port accepted")
	}
}

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1024", 1024, true},
		{"1b", 1, true},
		{"1k", 1000, true},
		{"1K", 1000, true},
		{"1kb", 1024, true},
		{"1KB", 1024, true},
		{"1kB", 1024, true},
		{"1m", 1000000, true},
		{"1mb", 1 << 20, true},
		{"3mb", 3145728, true},
		{"1g", 1000000000, true},
		{"1gb", 1073741824, true},
		{"1Gb", 1073741824, true},
		{"8589934591gb", 8589934591 << 30, true},
		{"8589934592gb", 0, false}, // overflows int64
		{"99999999999999999999", 0, false},
		{"", 0, false},
		{"kb", 0, false},
		{"-1", 0, false},
		{"1.5gb", 0, false},
		{"1tb", 0, false},
		{"1 kb", 0, false},
		{" 1", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseMemory(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0"}, {1, "1"}, {1000, "1000"}, {1024, "1kb"}, {1536, "1536"}, {3 << 20, "3mb"}, {1 << 30, "1gb"}, {5 << 30, "5gb"}} {
		if got := FormatMemory(tt.n); got != tt.want {
			t.Errorf("FormatMemory(%d) = %q, want %q", tt.n, got, tt.want)
		}
		if back, err := ParseMemory(FormatMemory(tt.n)); err != nil || back != tt.n {
			t.Errorf("ParseMemory(FormatMemory(%d)) = %d, %v", tt.n, back, err)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in   string
		want []string // nil: error
	}{
		{"", []string{}},
		{"   \t ", []string{}},
		{"a b  c", []string{"a", "b", "c"}},
		{"\ta\tb\t", []string{"a", "b"}},
		{`"hello world"`, []string{"hello world"}},
		{`""`, []string{""}},
		{`''`, []string{""}},
		{`"a\nb\rc\td\\e\"f\bg\ah"`, []string{"a\nb\rc\td\\e\"f\bg\ah"}},
		{`"\x41\x6a\x6B"`, []string{"Ajk"}},
		{`"\xZZ"`, []string{"xZZ"}},
		{`"\q"`, []string{"q"}},
		{`'it\'s'`, []string{"it's"}},
		{`'a\nb'`, []string{`a\nb`}},
		{`'a"b'`, []string{`a"b`}},
		{`"a'b"`, []string{`a'b`}},
		{`ab"cd"`, []string{"abcd"}},
		{`ab'cd' e`, []string{"abcd", "e"}},
		{`a\b`, []string{`a\b`}},
		{"a\vb", []string{"a\vb"}},
		{"\va", []string{"a"}},
		{"a\x00b c", []string{"a"}},
		{`"a" "b"`, []string{"a", "b"}},
		{`"a"` + "\t" + `b`, []string{"a", "b"}},
		{`"unterminated`, nil},
		{`'unterminated`, nil},
		{`"a"b`, nil},
		{`'a'b`, nil},
		{`"a\"`, nil},
		{`"\`, nil},
	}
	for _, tt := range tests {
		got, err := splitArgs(tt.in)
		if tt.want == nil {
			if err == nil {
				t.Errorf("splitArgs(%q) = %q, want error", tt.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitArgs(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestQuoteArgRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "two words", `q"uote`, "it's", `back\slash`, "nl\nx", "\x00\x01\x7f", "ünïcode", "#hash", "tab\t"} {
		q := quoteArg(s)
		got, err := splitArgs("x " + q)
		if err != nil || len(got) != 2 || got[1] != s {
			t.Errorf("quoteArg(%q) = %s reads back as %q, %v", s, q, got, err)
		}
	}
	if quoteArg("127.0.0.1") != "127.0.0.1" || quoteArg("") != `""` {
		t.Errorf("quoting when not needed")
	}
}

func TestInclude(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Relative to the including file, not to the working directory.
	write("conf.d/common.conf", "port 7001\nmaxmemory 1mb\ninclude more.conf\n")
	write("conf.d/more.conf", "hz 50\n")
	main := write("main.conf", "include conf.d/common.conf\nport 7002\n")
	text, _ := os.ReadFile(main)
	c, _, err := Parse(string(text), main)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 7002 || c.MaxMemory != 1<<20 || c.Hz != 50 {
		t.Errorf("port %d maxmemory %d hz %d", c.Port, c.MaxMemory, c.Hz)
	}

	// An error inside an included file names that file and its line.
	write("bad.conf", "# fine\nport -5\n")
	_, _, err = Parse("include "+filepath.Join(dir, "bad.conf"), "")
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 2 || !pe.Included || !strings.HasSuffix(pe.File, "bad.conf") {
		t.Fatalf("err = %#v", err)
	}
	if !strings.Contains(err.Error(), "Reading the configuration file "+pe.File+", at line 2\n>>> 'port -5'\nInvalid port") {
		t.Errorf("Error() = %q", err.Error())
	}

	// Missing include: the include line is the bad line.
	_, _, err = Parse("port 1\ninclude nowhere.conf", filepath.Join(dir, "x.conf"))
	if !errors.As(err, &pe) || pe.Line != 2 || pe.Included || !strings.HasPrefix(pe.Msg, "Can't open the include file") {
		t.Fatalf("err = %v", err)
	}

	// Loops, direct and indirect, are refused.
	loop := write("loop.conf", "include loop.conf\n")
	_, _, err = Parse("include loop.conf", loop)
	if err == nil || !strings.Contains(err.Error(), "include loop") {
		t.Errorf("self include: %v", err)
	}
	a := write("a.conf", "include b.conf\n")
	write("b.conf", "include a.conf\n")
	aText, _ := os.ReadFile(a)
	_, _, err = Parse(string(aText), a)
	if err == nil || !strings.Contains(err.Error(), "include loop") {
		t.Errorf("a->b->a: %v", err)
	}
	// The same file included twice in a row is not a loop.
	write("twice.conf", "hz 20\n")
	if _, _, err := Parse("include twice.conf\ninclude twice.conf", filepath.Join(dir, "m.conf")); err != nil {
		t.Errorf("double include: %v", err)
	}
	// Not a regular file.
	if _, _, err := Parse("include "+dir, ""); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory include: %v", err)
	}
}

func TestWarnings(t *testing.T) {
	_, warns, err := Parse("port 7711\ndaemonize yes\ndatabases 16\n", "disque.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 2 || warns[0].Line != 2 || warns[1].Line != 3 {
		t.Fatalf("warnings %+v", warns)
	}
	if s := warns[0].String(); s != "disque.conf:2: 'daemonize yes': godisque does not daemonize; run it under a process supervisor" {
		t.Errorf("String() = %q", s)
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args      []string
		path, ovr string
		err       error
	}{
		{nil, "", "", nil},
		{[]string{"disque.conf"}, "disque.conf", "", nil},
		{[]string{"-"}, "-", "", nil},
		{[]string{"--port", "7777"}, "", "port 7777", nil},
		{[]string{"disque.conf", "--port", "7777", "--bind", "127.0.0.1", "::1"}, "disque.conf", "port 7777\nbind 127.0.0.1 ::1", nil},
		{[]string{"-", "--logfile", ""}, "-", `logfile ""`, nil},
		{[]string{"--requirepass", "a b"}, "", `requirepass "a b"`, nil},
		{[]string{"--slowlog-log-slower-than", "-1"}, "", "slowlog-log-slower-than -1", nil},
		{[]string{"--appendonly"}, "", "appendonly", nil}, // Parse reports the arity
		{[]string{"-v"}, "", "", ErrVersion},
		{[]string{"--version"}, "", "", ErrVersion},
		{[]string{"-h"}, "", "", ErrHelp},
		{[]string{"--help"}, "", "", ErrHelp},
		{[]string{"disque.conf", "--help"}, "", "", ErrHelp},
	}
	for _, tt := range tests {
		path, ovr, err := ParseArgs(tt.args)
		if path != tt.path || ovr != tt.ovr || !errors.Is(err, tt.err) {
			t.Errorf("ParseArgs(%q) = %q, %q, %v; want %q, %q, %v", tt.args, path, ovr, err, tt.path, tt.ovr, tt.err)
		}
	}
	for _, bad := range [][]string{{"a.conf", "b.conf"}, {"a.conf", "--"}, {"--test-memory", "100"}} {
		if _, _, err := ParseArgs(bad); err == nil || errors.Is(err, ErrHelp) || errors.Is(err, ErrVersion) {
			t.Errorf("ParseArgs(%q) err = %v", bad, err)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "disque.conf")
	if err := os.WriteFile(path, []byte("port 7000\nhz 20\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, ovr, err := ParseArgs([]string{path, "--port", "7001", "--maxmemory", "2mb"})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := Load(path, ovr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 7001 || c.Hz != 20 || c.MaxMemory != 2<<20 {
		t.Errorf("port %d hz %d maxmemory %d", c.Port, c.Hz, c.MaxMemory)
	}
	// The override lines are numbered after the file's.
	_, _, err = Load(path, "port nope", nil)
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 4 {
		t.Errorf("err = %v", err)
	}
	c, _, err = Load("-", "hz 30", strings.NewReader("port 7100\n"))
	if err != nil || c.Port != 7100 || c.Hz != 30 {
		t.Errorf("stdin: %v %+v", err, c)
	}
	c, warns, err := Load("", "", nil)
	if err != nil || !reflect.DeepEqual(c, Default()) || len(warns) != 1 {
		t.Errorf("no file: %v %v", err, warns)
	}
	if _, _, err := Load(filepath.Join(dir, "missing.conf"), "", nil); err == nil || !strings.Contains(err.Error(), "can't open config file") {
		t.Errorf("missing: %v", err)
	}
}

// A configuration in the style of Disque's sample disque.conf loads.
func TestSampleConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "disque.conf"))
	if err != nil {
		t.Fatal(err)
	}
	c, warns, err := Parse(string(b), "testdata/disque.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	if !reflect.DeepEqual(c, want) {
		t.Errorf("sample differs from defaults:\n got %+v\nwant %+v", c, want)
	}
	if len(warns) != 2 { // the slave and pubsub buffer classes
		t.Errorf("warnings: %v", warns)
	}
}
