package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// The defaults of SPEC.md §4 and §17.
func TestDefault(t *testing.T) {
	c := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"port", c.Port, 7711},
		{"bus port", c.BusPort(), 17711},
		{"dir", c.Dir, "./"},
		{"appendonly", c.AppendOnly, false},
		{"appendfilename", c.AppendFilename, "disque.aof"},
		{"appendfsync", c.AppendFsync, FsyncEverySec},
		{"auto-aof-rewrite-percentage", c.AutoAOFRewritePercentage, 100},
		{"auto-aof-rewrite-min-size", c.AutoAOFRewriteMinSize, int64(64 << 20)},
		{"aof-load-truncated", c.AOFLoadTruncated, true},
		{"aof-enqueue-jobs-once", c.AOFEnqueueJobsOnce, false},
		{"hz", c.Hz, 10},
		{"loglevel", c.LogLevel, LogNotice},
		{"logfile", c.LogFile, ""},
		{"maxmemory", c.MaxMemory, int64(1073741824)},
		{"maxmemory-policy", c.MaxMemoryPolicy, PolicyAcks},
		{"maxmemory-samples", c.MaxMemorySamples, 5},
		{"cluster-node-timeout", c.ClusterNodeTimeout, int64(15000)},
		{"node timeout", c.NodeTimeout(), 15 * time.Second},
		{"cluster-config-file", c.ClusterConfigFile, "nodes.conf"},
		{"maxclients", c.MaxClients, 10000},
		{"tcp-backlog", c.TCPBacklog, 511},
		{"timeout", c.Timeout, 0},
		{"tcp-keepalive", c.TCPKeepAlive, 0},
		{"databases", c.Databases, 16},
		{"slowlog-log-slower-than", c.SlowlogLogSlowerThan, int64(10000)},
		{"slowlog-max-len", c.SlowlogMaxLen, int64(128)},
		{"latency-monitor-threshold", c.LatencyMonitorThreshold, int64(0)},
		{"watchdog-period", c.WatchdogPeriod, 0},
		{"bind", len(c.Bind), 0},
		{"requirepass", c.RequirePass, ""},
		{"syslog-ident", c.SyslogIdent, "disque"},
		{"syslog-facility", c.SyslogFacility, "local0"},
		{"activerehashing", c.ActiveRehashing, true},
		{"cluster-etcd-endpoints", len(c.ClusterEtcdEndpoints), 0},
		{"cluster-etcd-prefix", c.ClusterEtcdPrefix, "/godisque/nodes/"},
		{"pprof", c.Pprof, ""},
		{"aof path", c.AOFPath(), "disque.aof"},
		{"nodes.conf path", c.ClusterConfigPath(), "nodes.conf"},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Default() does not validate: %v", err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("Validate changed the defaults")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		errs   []string // substrings; none: valid
	}{
		{"port 0", func(c *Config) { c.Port = 0 }, nil},
		{"port max with derived bus", func(c *Config) { c.Port = 55535 }, nil},
		{"port too high for bus", func(c *Config) { c.Port = 55536 }, []string{"port 55536 is too high"}},
		{"high port with bus port", func(c *Config) { c.Port = 60000; c.ClusterBusPort = 7000 }, nil},
		{"port out of range", func(c *Config) { c.Port = 70000 }, []string{"port 70000 is out of range"}},
		{"bus port = port", func(c *Config) { c.ClusterBusPort = 7711 }, []string{"is the client port"}},
		{"bus port out of range", func(c *Config) { c.ClusterBusPort = -1 }, []string{"cluster-bus-port -1"}},
		{"hz clamped low", func(c *Config) { c.Hz = -3 }, nil},
		{"hz clamped high", func(c *Config) { c.Hz = 9999 }, nil},
		{"enum case", func(c *Config) { c.LogLevel = "DEBUG"; c.AppendFsync = "No" }, nil},
		{"bad enums", func(c *Config) {
			c.LogLevel = "loud"
			c.MaxMemoryPolicy = "lru"
			c.AppendFsync = "x"
			c.SyslogFacility = "kern"
		},
			[]string{"loglevel", "maxmemory-policy", "appendfsync", "syslog-facility"}},
		{"negatives", func(c *Config) { c.Timeout = -1; c.MaxMemory = -1; c.SlowlogMaxLen = -1 },
			[]string{"timeout must not be negative", "maxmemory must not be negative", "slowlog-max-len"}},
		{"zeros", func(c *Config) { c.MaxClients = 0; c.ClusterNodeTimeout = 0 },
			[]string{"maxclients must be 1 or greater", "cluster-node-timeout must be 1 or greater"}},
		{"maxmemory 0 is valid", func(c *Config) { c.MaxMemory = 0 }, nil},
		{"aof path", func(c *Config) { c.AppendFilename = "../x.aof" }, []string{"appendfilename"}},
		{"empty dir", func(c *Config) { c.Dir = "" }, []string{"dir must not be empty"}},
		{"perm", func(c *Config) { c.UnixSocketPerm = 01000 }, []string{"unixsocketperm"}},
		{"password", func(c *Config) { c.RequirePass = strings.Repeat("x", 600) }, []string{"requirepass"}},
		{"seeds", func(c *Config) { c.ClusterSeeds = []string{"h:1", "bad"} }, []string{`seed "bad"`}},
		{"etcd endpoints", func(c *Config) { c.ClusterEtcdEndpoints = []string{"http://h:2379", "h:2379", "nowhere"} },
			[]string{`cluster-etcd-endpoints: etcd endpoint "nowhere"`}},
		{"etcd prefix", func(c *Config) { c.ClusterEtcdPrefix = "" }, []string{"cluster-etcd-prefix must not be empty"}},
		{"pprof", func(c *Config) { c.Pprof = "localhost" }, []string{`pprof: pprof address "localhost" must be host:port`}},
		{"pprof on every interface", func(c *Config) { c.Pprof = ":6060" }, nil},
		{"bind", func(c *Config) { c.Bind = []string{""} }, []string{"bind: empty address"}},
		{"buffer limit", func(c *Config) { c.ClientOutputBufferLimit.SoftSeconds = -1 }, []string{"soft seconds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.change(c)
			err := c.Validate()
			if len(tt.errs) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %v", tt.errs)
			}
			for _, want := range tt.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "config: ") {
					t.Errorf("error line %q lacks the config: prefix", line)
				}
			}
		})
	}
	c := Default()
	c.Hz, c.LogLevel = 9999, "DEBUG"
	if err := c.Validate(); err != nil || c.Hz != MaxHz || c.LogLevel != LogDebug {
		t.Errorf("not normalised: %v hz %d loglevel %q", err, c.Hz, c.LogLevel)
	}
}

func TestClone(t *testing.T) {
	c := Default()
	c.Bind = []string{"a"}
	c.ClusterSeeds = []string{"h:1"}
	c.ClusterEtcdEndpoints = []string{"h:2379"}
	c.RenameCommands = []CommandRename{{"A", "B"}}
	n := c.Clone()
	if !reflect.DeepEqual(c, n) {
		t.Fatal("clone differs")
	}
	n.Bind[0], n.ClusterSeeds[0], n.ClusterEtcdEndpoints[0], n.RenameCommands[0].To = "x", "x", "x", "x"
	if c.Bind[0] != "a" || c.ClusterSeeds[0] != "h:1" || c.ClusterEtcdEndpoints[0] != "h:2379" || c.RenameCommands[0].To != "B" {
		t.Error("clone shares slices")
	}
	if d := Default().Clone(); d.Bind != nil || d.ClusterSeeds != nil || d.ClusterEtcdEndpoints != nil || !reflect.DeepEqual(d, Default()) {
		t.Error("clone of nil slices")
	}
}

func TestPaths(t *testing.T) {
	c := Default()
	c.Dir = "/var/lib/disque"
	if c.AOFPath() != "/var/lib/disque/disque.aof" || c.ClusterConfigPath() != "/var/lib/disque/nodes.conf" {
		t.Errorf("%s %s", c.AOFPath(), c.ClusterConfigPath())
	}
	c.ClusterConfigFile = "/etc/disque/nodes.conf"
	if c.ClusterConfigPath() != "/etc/disque/nodes.conf" {
		t.Error(c.ClusterConfigPath())
	}
}
