package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The 35 names of CONFIG GET *, in the order observed on Disque
// (SPEC.md §17).
const specGetOrder = `requirepass unixsocket logfile pidfile maxmemory
	maxmemory-samples timeout auto-aof-rewrite-percentage
	auto-aof-rewrite-min-size slowlog-log-slower-than
	latency-monitor-threshold slowlog-max-len port tcp-backlog databases
	maxclients watchdog-period hz cluster-node-timeout tcp-keepalive
	no-appendfsync-on-rewrite daemonize activerehashing
	aof-rewrite-incremental-fsync aof-load-truncated aof-enqueue-jobs-once
	maxmemory-policy loglevel appendfsync syslog-facility appendonly dir
	client-output-buffer-limit unixsocketperm bind`

func names(pairs []string) []string {
	var out []string
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, pairs[i])
	}
	return out
}

func TestGetAll(t *testing.T) {
	got := Default().Get("*")
	if want := strings.Fields(specGetOrder); !reflect.DeepEqual(names(got), want) || len(want) != 35 {
		t.Fatalf("CONFIG GET * names:\n got %v\nwant %v", names(got), want)
	}
	wd, _ := os.Getwd()
	want := map[string]string{
		"requirepass": "", "unixsocket": "", "logfile": "", "pidfile": "",
		"maxmemory": "1073741824", "maxmemory-samples": "5", "timeout": "0",
		"auto-aof-rewrite-percentage": "100", "auto-aof-rewrite-min-size": "67108864",
		"slowlog-log-slower-than": "10000", "latency-monitor-threshold": "0",
		"slowlog-max-len": "128", "port": "7711", "tcp-backlog": "511", "databases": "16",
		"maxclients": "10000", "watchdog-period": "0", "hz": "10",
		"cluster-node-timeout": "15000", "tcp-keepalive": "0",
		"no-appendfsync-on-rewrite": "no", "daemonize": "no", "activerehashing": "yes",
		"aof-rewrite-incremental-fsync": "yes", "aof-load-truncated": "yes",
		"aof-enqueue-jobs-once": "no", "maxmemory-policy": "acks", "loglevel": "notice",
		"appendfsync": "everysec", "syslog-facility": "local0", "appendonly": "no",
		"dir": wd, "client-output-buffer-limit": "normal 0 0 0", "unixsocketperm": "0",
		"bind": "",
	}
	for i := 0; i < len(got); i += 2 {
		if want[got[i]] != got[i+1] {
			t.Errorf("%s = %q, want %q", got[i], got[i+1], want[got[i]])
		}
	}
}

func TestGetValues(t *testing.T) {
	c := Default()
	c.Bind = []string{"127.0.0.1", "::1"}
	c.UnixSocketPerm = 0755
	c.MaxMemory = 3 << 20
	c.RequirePass = "pw"
	c.ClientOutputBufferLimit = ClientBufferLimit{HardBytes: 1 << 20, SoftBytes: 1000, SoftSeconds: 9}
	c.Dir = "/"
	for pattern, want := range map[string][]string{
		"bind":                       {"bind", "127.0.0.1 ::1"},
		"unixsocketperm":             {"unixsocketperm", "755"},
		"maxmemory":                  {"maxmemory", "3145728"},
		"requirepass":                {"requirepass", "pw"},
		"client-output-buffer-limit": {"client-output-buffer-limit", "normal 1048576 1000 9"},
		"dir":                        {"dir", "/"},
		"save":                       nil, // asked by some clients: nothing
		"cluster-seeds":              nil, // ours, not in Disque's list
		"cluster-etcd-endpoints":     nil, // ours too
		"cluster-etcd-prefix":        nil,
		"cluster-*":                  {"cluster-node-timeout", "15000"},
		"":                           nil,
	} {
		if got := c.Get(pattern); !reflect.DeepEqual(got, want) {
			t.Errorf("Get(%q) = %q, want %q", pattern, got, want)
		}
	}
}

func TestGetGlob(t *testing.T) {
	c := Default()
	for pattern, want := range map[string]string{
		"maxmemory*":     "maxmemory maxmemory-samples maxmemory-policy",
		"MAXMEMORY":      "maxmemory",
		"*aof*":          "auto-aof-rewrite-percentage auto-aof-rewrite-min-size aof-rewrite-incremental-fsync aof-load-truncated aof-enqueue-jobs-once",
		"?z":             "hz",
		"[pd]*":          "pidfile port databases daemonize dir",
		"[^a-s]*":        "unixsocket timeout tcp-backlog watchdog-period tcp-keepalive unixsocketperm",
		"*-len":          "slowlog-max-len",
		"append*":        "appendfsync appendonly",
		"a[p-p]pend\\o*": "appendonly",
	} {
		if got := strings.Join(names(c.Get(pattern)), " "); got != want {
			t.Errorf("Get(%q) = %q, want %q", pattern, got, want)
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", false}, // as Redis: nothing matches the empty string
		{"*", "anything", true},
		{"**", "x", true},
		{"a*", "a", true},
		{"a*b", "ab", true},
		{"a*b", "axxb", true},
		{"a*b", "axxc", false},
		{"*b*", "abc", true},
		{"?", "a", true},
		{"?", "", false},
		{"??", "a", false},
		{"h?llo", "HELLO", true},
		{"[abc]", "b", true},
		{"[abc]", "d", false},
		{"[ABC]", "b", true},
		{"[^abc]", "d", true},
		{"[^abc]", "a", false},
		{"[a-c]x", "bx", true},
		{"[c-a]x", "bx", true}, // reversed range
		{"[A-C]", "b", true},
		{"[a-c]", "d", false},
		{"[\\]]", "]", true},
		{"[\\a]", "A", false}, // an escape inside brackets keeps its case
		{"\\*", "*", true},
		{"\\*", "a", false},
		{"a\\", "a\\", true},
		{"[abc", "b", true}, // unterminated class
		{"[abc", "bx", false},
		{"[a-", "-", true}, // "a-" is too short for a range: a or -
		{"[", "x", false},
		{"x[", "x", false},
		{"a*", "b", false},
		{"*a", "", false},
		{"a**", "a", true},
		{strings.Repeat("*a", 40) + "b", strings.Repeat("a", 60), false}, // no exponential blow-up
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.s); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		name, value string
		want        func(c *Config)
	}{
		{"requirepass", "pw", func(c *Config) { c.RequirePass = "pw" }},
		{"requirepass", "", func(c *Config) {}},
		{"maxclients", "50", func(c *Config) { c.MaxClients = 50 }},
		{"appendonly", "yes", func(c *Config) { c.AppendOnly = true }},
		{"dir", "/", func(c *Config) { c.Dir = "/" }},
		{"client-output-buffer-limit", "normal 100 50 10", func(c *Config) {
			c.ClientOutputBufferLimit = ClientBufferLimit{HardBytes: 100, SoftBytes: 50, SoftSeconds: 10}
		}},
		{"client-output-buffer-limit", "", func(c *Config) {}}, // zero classes: nothing changes
		{"aof-rewrite-incremental-fsync", "no", func(c *Config) { c.AOFRewriteIncrementalFsync = false }},
		{"aof-load-truncated", "NO", func(c *Config) { c.AOFLoadTruncated = false }},
		{"activerehashing", "no", func(c *Config) { c.ActiveRehashing = false }},
		{"tcp-keepalive", "60", func(c *Config) { c.TCPKeepAlive = 60 }},
		{"aof-enqueue-jobs-once", "yes", func(c *Config) { c.AOFEnqueueJobsOnce = true }},
		{"maxmemory-samples", "3", func(c *Config) { c.MaxMemorySamples = 3 }},
		{"timeout", "10", func(c *Config) { c.Timeout = 10 }},
		{"auto-aof-rewrite-percentage", "0", func(c *Config) { c.AutoAOFRewritePercentage = 0 }},
		{"auto-aof-rewrite-min-size", "1mb", func(c *Config) { c.AutoAOFRewriteMinSize = 1 << 20 }},
		{"slowlog-log-slower-than", "-1", func(c *Config) { c.SlowlogLogSlowerThan = -1 }},
		{"slowlog-max-len", "0", func(c *Config) { c.SlowlogMaxLen = 0 }},
		{"latency-monitor-threshold", "5", func(c *Config) { c.LatencyMonitorThreshold = 5 }},
		{"cluster-node-timeout", "3000", func(c *Config) { c.ClusterNodeTimeout = 3000 }},
		{"hz", "1000", func(c *Config) { c.Hz = MaxHz }},
		{"hz", "0", func(c *Config) { c.Hz = MinHz }},
		{"watchdog-period", "100", func(c *Config) { c.WatchdogPeriod = 100 }},
		{"maxmemory", "3mb", func(c *Config) { c.MaxMemory = 3145728 }},
		{"maxmemory", "3145728", func(c *Config) { c.MaxMemory = 3145728 }},
		{"maxmemory", "0", func(c *Config) { c.MaxMemory = 0 }},
		{"maxmemory", "1", func(c *Config) { c.MaxMemory = 1 }},
		{"MAXMEMORY", "1GB", func(c *Config) { c.MaxMemory = 1 << 30 }},
		{"loglevel", "warning", func(c *Config) { c.LogLevel = LogWarning }},
		{"maxmemory-policy", "noeviction", func(c *Config) { c.MaxMemoryPolicy = PolicyNoEviction }},
		{"appendfsync", "always", func(c *Config) { c.AppendFsync = FsyncAlways }},
		{"no-appendfsync-on-rewrite", "yes", func(c *Config) { c.NoAppendFsyncOnRewrite = true }},
	}
	for _, tt := range tests {
		c := Default()
		if err := c.Set(tt.name, tt.value); err != nil {
			t.Errorf("Set(%q, %q): %v", tt.name, tt.value, err)
			continue
		}
		want := Default()
		tt.want(want)
		if !reflect.DeepEqual(c, want) {
			t.Errorf("Set(%q, %q):\n got %+v\nwant %+v", tt.name, tt.value, c, want)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("Set(%q, %q) leaves an invalid config: %v", tt.name, tt.value, err)
		}
	}
	// Every settable parameter of SPEC.md §17 is covered above.
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[strings.ToLower(tt.name)] = true
	}
	for _, name := range settable {
		if !covered[name] {
			t.Errorf("settable %s has no test", name)
		}
	}
}

// The error replies, verbatim (SPEC.md §5.19).
func TestSetErrors(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, value, want string }{
		{"port", "7000", "ERR Unsupported CONFIG parameter: port"},
		{"nosuch", "1", "ERR Unsupported CONFIG parameter: nosuch"},
		{"Bind", "1.2.3.4", "ERR Unsupported CONFIG parameter: Bind"},
		{"save", "", "ERR Unsupported CONFIG parameter: save"},
		{"appendfilename", "x.aof", "ERR Unsupported CONFIG parameter: appendfilename"},
		{"cluster-seeds", "a:1", "ERR Unsupported CONFIG parameter: cluster-seeds"},
		{"cluster-etcd-endpoints", "http://h:2379", "ERR Unsupported CONFIG parameter: cluster-etcd-endpoints"},
		{"cluster-etcd-prefix", "/p/", "ERR Unsupported CONFIG parameter: cluster-etcd-prefix"},
		{"maxmemory", "lots", "ERR Invalid argument 'lots' for CONFIG SET 'maxmemory'"},
		{"maxmemory", "-1", "ERR Invalid argument '-1' for CONFIG SET 'maxmemory'"},
		{"MaxMemory", "1tb", "ERR Invalid argument '1tb' for CONFIG SET 'MaxMemory'"},
		{"maxclients", "0", "ERR Invalid argument '0' for CONFIG SET 'maxclients'"},
		{"hz", "-1", "ERR Invalid argument '-1' for CONFIG SET 'hz'"},
		{"hz", "x", "ERR Invalid argument 'x' for CONFIG SET 'hz'"},
		{"maxmemory-policy", "allkeys-lru", "ERR Invalid argument 'allkeys-lru' for CONFIG SET 'maxmemory-policy'"},
		{"maxmemory-samples", "0", "ERR Invalid argument '0' for CONFIG SET 'maxmemory-samples'"},
		{"timeout", "-1", "ERR Invalid argument '-1' for CONFIG SET 'timeout'"},
		{"tcp-keepalive", "99999999999", "ERR Invalid argument '99999999999' for CONFIG SET 'tcp-keepalive'"},
		{"appendfsync", "sometimes", "ERR Invalid argument 'sometimes' for CONFIG SET 'appendfsync'"},
		{"appendonly", "1", "ERR Invalid argument '1' for CONFIG SET 'appendonly'"},
		{"auto-aof-rewrite-percentage", "-5", "ERR Invalid argument '-5' for CONFIG SET 'auto-aof-rewrite-percentage'"},
		{"slowlog-max-len", "-1", "ERR Invalid argument '-1' for CONFIG SET 'slowlog-max-len'"},
		{"latency-monitor-threshold", "-1", "ERR Invalid argument '-1' for CONFIG SET 'latency-monitor-threshold'"},
		{"loglevel", "loud", "ERR Invalid argument 'loud' for CONFIG SET 'loglevel'"},
		{"client-output-buffer-limit", "normal 0 0", "ERR Invalid argument 'normal 0 0' for CONFIG SET 'client-output-buffer-limit'"},
		{"client-output-buffer-limit", "slave 0 0 0", "ERR Invalid argument 'slave 0 0 0' for CONFIG SET 'client-output-buffer-limit'"},
		{"client-output-buffer-limit", "normal 0 0 -1", "ERR Invalid argument 'normal 0 0 -1' for CONFIG SET 'client-output-buffer-limit'"},
		{"watchdog-period", "-1", "ERR Invalid argument '-1' for CONFIG SET 'watchdog-period'"},
		{"cluster-node-timeout", "0", "ERR Invalid argument '0' for CONFIG SET 'cluster-node-timeout'"},
		{"requirepass", strings.Repeat("p", 513), "ERR Invalid argument '" + strings.Repeat("p", 513) + "' for CONFIG SET 'requirepass'"},
		{"loglevel", "a\r\nb", "ERR Invalid argument 'a  b' for CONFIG SET 'loglevel'"},
		{"dir", "/nonexistent/godisque", "ERR Changing directory: No such file or directory"},
		{"dir", notADir, "ERR Changing directory: Not a directory"},
	}
	for _, tt := range tests {
		c := Default()
		err := c.Set(tt.name, tt.value)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Set(%q, %q) = %v\nwant %s", tt.name, tt.value, err, tt.want)
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("Set(%q, %q) failed but changed the config", tt.name, tt.value)
		}
	}
	var ue *UnsupportedError
	if !errors.As(Default().Set("port", "1"), &ue) || ue.Name != "port" {
		t.Errorf("not an *UnsupportedError")
	}
	var ie *InvalidArgumentError
	if !errors.As(Default().Set("hz", "x"), &ie) || ie.Name != "hz" || ie.Value != "x" {
		t.Errorf("not an *InvalidArgumentError")
	}
}

// Set, then Get, gives the value back in its canonical form.
func TestSetGetRoundTrip(t *testing.T) {
	dir := t.TempDir()
	abs, _ := filepath.Abs(dir)
	for _, tt := range []struct{ name, value, want string }{
		{"maxmemory", "2mb", "2097152"},
		{"loglevel", "DEBUG", "debug"},
		{"appendonly", "Yes", "yes"},
		{"dir", dir, abs},
		{"hz", "777", "500"},
		{"client-output-buffer-limit", "normal 1kb 1k 5", "normal 1024 1000 5"},
	} {
		c := Default()
		if err := c.Set(tt.name, tt.value); err != nil {
			t.Fatal(err)
		}
		if got := c.Get(tt.name); len(got) != 2 || got[1] != tt.want {
			t.Errorf("Set(%q, %q); Get = %q, want %q", tt.name, tt.value, got, tt.want)
		}
	}
}

// cluster-etcd-endpoints and cluster-etcd-prefix are start-up settings:
// read from the file (a later line replaces an earlier one), refused by
// CONFIG SET, not listed by CONFIG GET (Disque's list), and written back
// by CONFIG REWRITE.
func TestEtcdDirectives(t *testing.T) {
	c, warns := parseOne(t, "cluster-etcd-endpoints http://10.0.0.1:2379 10.0.0.2:2379\n"+
		"cluster-etcd-prefix /prod/disque/\n"+
		"cluster-etcd-endpoints http://10.0.0.3:2379 https://10.0.0.4:2379\n")
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	if want := []string{"http://10.0.0.3:2379", "https://10.0.0.4:2379"}; !reflect.DeepEqual(c.ClusterEtcdEndpoints, want) {
		t.Errorf("endpoints %q, want %q", c.ClusterEtcdEndpoints, want)
	}
	if c.ClusterEtcdPrefix != "/prod/disque/" {
		t.Errorf("prefix %q", c.ClusterEtcdPrefix)
	}
	if got := c.Get("*etcd*"); got != nil {
		t.Errorf("CONFIG GET *etcd* = %q, want nothing", got)
	}
	for _, name := range []string{"cluster-etcd-endpoints", "cluster-etcd-prefix"} {
		n := c.Clone()
		var ue *UnsupportedError
		if err := n.Set(name, "/x/"); !errors.As(err, &ue) || !reflect.DeepEqual(n, c) {
			t.Errorf("CONFIG SET %s: %v", name, err)
		}
	}
	out := rewriteText("", c)
	want := "# Generated by CONFIG REWRITE\n" +
		"cluster-etcd-endpoints http://10.0.0.3:2379 https://10.0.0.4:2379\n" +
		"cluster-etcd-prefix /prod/disque/\n"
	if out != want {
		t.Errorf("rewrite:\n%s\nwant:\n%s", out, want)
	}
	if again, _ := parseOne(t, out); !reflect.DeepEqual(again, c) {
		t.Errorf("rewritten file parses to %+v", again)
	}
	// Back to the defaults: no endpoints is no line; the prefix line, being
	// in the file, keeps its place with the default value.
	if out := rewriteText(out, Default()); strings.Contains(out, "cluster-etcd-endpoints") ||
		!strings.Contains(out, "\ncluster-etcd-prefix /godisque/nodes/\n") {
		t.Errorf("rewrite to defaults:\n%s", out)
	}
}
