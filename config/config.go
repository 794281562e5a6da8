package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ---------------------------------------------------------------- Limits ----

const (
	// DefaultPort is Disque's client port.
	DefaultPort = 7711

	// BusPortOffset is added to the client port to get the cluster bus
	// port when cluster-bus-port is 0, as in Disque.
	BusPortOffset = 10000

	// MaxPortWithDerivedBus is the highest client port whose derived bus
	// port (port+BusPortOffset) is still a valid TCP port.
	MaxPortWithDerivedBus = 65535 - BusPortOffset

	// MinHz and MaxHz bound hz. Values outside are clamped, never refused.
	MinHz = 1
	MaxHz = 500

	// MaxPasswordLen is the longest requirepass accepted
	// (DISQUE_AUTHPASS_MAX_LEN).
	MaxPasswordLen = 512
)

// LogLevel is the verbosity of the server log (loglevel).
type LogLevel string

// The log levels, most verbose first.
const (
	LogDebug   LogLevel = "debug"   // everything, for development
	LogVerbose LogLevel = "verbose" // rarely useful information
	LogNotice  LogLevel = "notice"  // moderately verbose: production
	LogWarning LogLevel = "warning" // only important or critical messages
)

// MaxMemoryPolicy says what a node may evict above 95% of maxmemory
// (maxmemory-policy, SPEC.md §14).
type MaxMemoryPolicy string

// The memory policies.
const (
	// PolicyAcks evicts acknowledged jobs and delivered at-most-once jobs,
	// then idle empty queues, before refusing commands with -OOM.
	PolicyAcks MaxMemoryPolicy = "acks"
	// PolicyNoEviction never evicts: ADDJOB, ENQUEUE and NACK get -OOM.
	PolicyNoEviction MaxMemoryPolicy = "noeviction"
)

// FsyncPolicy is when the append-only file is fsynced (appendfsync).
type FsyncPolicy string

// The fsync policies.
const (
	FsyncAlways   FsyncPolicy = "always"   // before replying to the write
	FsyncEverySec FsyncPolicy = "everysec" // once a second: lose at most ~1 s
	FsyncNo       FsyncPolicy = "no"       // whenever the OS decides
)

// ClientBufferLimit is the output-buffer limit of the "normal" client class
// (client-output-buffer-limit normal <hard> <soft> <soft-seconds>). Disque
// has no replicas and no pub/sub, so normal is its only class.
type ClientBufferLimit struct {
	// HardBytes disconnects a client at once when its pending output
	// reaches this many bytes. 0 = no hard limit.
	HardBytes int64
	// SoftBytes disconnects a client whose pending output stays above
	// this many bytes for SoftSeconds. 0 = no soft limit.
	SoftBytes int64
	// SoftSeconds is how long the soft limit may be exceeded.
	SoftSeconds int
}

// String is the CONFIG GET form: "normal <hard> <soft> <seconds>".
func (l ClientBufferLimit) String() string {
	return fmt.Sprintf("normal %d %d %d", l.HardBytes, l.SoftBytes, l.SoftSeconds)
}

// CommandRename is one rename-command directive.
type CommandRename struct {
	From string // the command's own name
	To   string // its new name; "" removes the command
}

// ---------------------------------------------------------------- Config ----

// Config is the whole configuration of one disque-server node: one field
// per directive of the configuration file (SPEC.md §17). Units are those of
// the directive, so a value reads the same in the file, in CONFIG GET and
// here. A *Config handed out by Store.Load is shared: never modify it; use
// Clone, or Store.Set.
type Config struct {
	// --- Network -------------------------------------------------------

	// Port is the TCP port for clients (port). 0 disables the TCP
	// listener. Unless ClusterBusPort is set, the cluster bus listens on
	// Port+10000, so Port may not exceed MaxPortWithDerivedBus.
	Port int

	// Bind lists the addresses the client listener binds (bind a b ...).
	// Empty means every interface. `make run` binds 127.0.0.1.
	Bind []string

	// TCPBacklog is the listen(2) backlog (tcp-backlog). Linux silently
	// caps it at /proc/sys/net/core/somaxconn.
	TCPBacklog int

	// UnixSocket is the path of a Unix-domain socket to listen on as well
	// (unixsocket). "" = none.
	UnixSocket string

	// UnixSocketPerm is the permission of UnixSocket, written in octal in
	// the file and in CONFIG GET (unixsocketperm 700). 0 leaves the
	// permission to the umask.
	UnixSocketPerm os.FileMode

	// Timeout closes a client connection idle for this many seconds
	// (timeout). 0 = never. Blocked GETJOB clients are not idle.
	Timeout int

	// TCPKeepAlive is the SO_KEEPALIVE period in seconds for client
	// connections (tcp-keepalive). 0 = no keepalive.
	TCPKeepAlive int

	// MaxClients is the most client connections served at once
	// (maxclients); further ones get "-ERR max number of clients reached".
	MaxClients int

	// ClientOutputBufferLimit disconnects clients that do not read their
	// replies (client-output-buffer-limit normal <hard> <soft> <secs>).
	ClientOutputBufferLimit ClientBufferLimit

	// RequirePass, when not "", makes clients AUTH before any other
	// command (requirepass). At most MaxPasswordLen bytes.
	RequirePass string

	// RenameCommands are the rename-command directives, in file order.
	// They are recorded for completeness; godisque does not rename
	// commands, and loading one produces a Warning.
	RenameCommands []CommandRename

	// --- Process and logging --------------------------------------------

	// Dir is the working directory: AppendFilename and ClusterConfigFile
	// live in it (dir). godisque never chdirs; it joins paths instead.
	// CONFIG GET reports it as an absolute path, like Disque's getcwd().
	Dir string

	// Daemonize asks the server to fork into the background (daemonize).
	// godisque never forks: run it under a supervisor. Kept for CONFIG
	// GET; "yes" loads with a Warning.
	Daemonize bool

	// PidFile is where the server writes its process id (pidfile).
	// "" = no pid file.
	PidFile string

	// LogLevel is the log verbosity (loglevel).
	LogLevel LogLevel

	// LogFile is the log file (logfile); "" logs to standard output.
	LogFile string

	// SyslogEnabled, SyslogIdent and SyslogFacility are Disque's syslog
	// settings (syslog-enabled, syslog-ident, syslog-facility: user or
	// local0..local7). godisque does not log to syslog; they are kept for
	// CONFIG GET and CONFIG REWRITE and load with a Warning.
	SyslogEnabled  bool
	SyslogIdent    string
	SyslogFacility string

	// Databases is a Redis leftover (databases), reported by CONFIG GET
	// and otherwise ignored.
	Databases int

	// ActiveRehashing is a Redis leftover about incremental hash-table
	// rehashing (activerehashing). Go maps have no equivalent; the value
	// is only reported.
	ActiveRehashing bool

	// Hz is how many times a second the node runs its periodic tasks
	// (hz): timeouts resolve at about 1/Hz. Clamped to MinHz..MaxHz.
	Hz int

	// WatchdogPeriod, in milliseconds, logs a stack trace of the node
	// when one pass of the event loop takes longer (watchdog-period).
	// 0 = off.
	WatchdogPeriod int

	// SlowlogLogSlowerThan logs commands that run longer than this many
	// microseconds (slowlog-log-slower-than). Negative disables the slow
	// log; 0 logs every command.
	SlowlogLogSlowerThan int64

	// SlowlogMaxLen is how many entries the slow log keeps
	// (slowlog-max-len).
	SlowlogMaxLen int64

	// LatencyMonitorThreshold, in milliseconds, records events at least
	// this slow for the LATENCY command (latency-monitor-threshold).
	// 0 = off.
	LatencyMonitorThreshold int64

	// --- Memory (SPEC.md §14) -------------------------------------------

	// MaxMemory is the memory budget in bytes (maxmemory; the file and
	// CONFIG SET accept units such as 1gb). Above 75% the node replicates
	// new jobs elsewhere; above 95% it evicts per MaxMemoryPolicy and
	// then refuses ADDJOB, ENQUEUE and NACK with -OOM. 0 is not
	// "unlimited": the node sits at the 95% level for good, without -OOM.
	MaxMemory int64

	// MaxMemoryPolicy is what may be evicted above 95% (maxmemory-policy).
	MaxMemoryPolicy MaxMemoryPolicy

	// MaxMemorySamples is how many random jobs each eviction round
	// looks at (maxmemory-samples).
	MaxMemorySamples int

	// --- Append-only file (SPEC.md §15) ---------------------------------

	// AppendOnly turns the append-only file on (appendonly). Turning it on
	// at run time (CONFIG SET) also starts a rewrite; that is the node's
	// job, not this package's.
	AppendOnly bool

	// AppendFilename is the AOF's name inside Dir (appendfilename); a
	// bare file name, never a path.
	AppendFilename string

	// AppendFsync is the AOF fsync policy (appendfsync).
	AppendFsync FsyncPolicy

	// NoAppendFsyncOnRewrite skips fsyncs of the AOF while it is being
	// rewritten (no-appendfsync-on-rewrite).
	NoAppendFsyncOnRewrite bool

	// AutoAOFRewritePercentage starts a rewrite when the AOF has grown by
	// this percentage since the last one (auto-aof-rewrite-percentage).
	// 0 disables automatic rewrites.
	AutoAOFRewritePercentage int

	// AutoAOFRewriteMinSize is the smallest AOF, in bytes, that an
	// automatic rewrite considers (auto-aof-rewrite-min-size).
	AutoAOFRewriteMinSize int64

	// AOFRewriteIncrementalFsync fsyncs a rewritten AOF every 32 MB as it
	// is written (aof-rewrite-incremental-fsync).
	AOFRewriteIncrementalFsync bool

	// AOFLoadTruncated loads an AOF whose last record is torn, cutting
	// it, instead of refusing to start (aof-load-truncated).
	AOFLoadTruncated bool

	// AOFEnqueueJobsOnce loads the AOF (even with AppendOnly off) and puts
	// the jobs that were queued back into their queues, once: the node
	// then sets it back to false and rewrites its config file
	// (aof-enqueue-jobs-once, SPEC.md §15).
	AOFEnqueueJobsOnce bool

	// --- Cluster --------------------------------------------------------

	// ClusterConfigFile is the node's own membership file, inside Dir
	// (cluster-config-file). It holds the node ID and known peers; two
	// nodes must never share one.
	ClusterConfigFile string

	// ClusterNodeTimeout, in milliseconds, is how long a peer may be
	// unreachable before it is considered failing
	// (cluster-node-timeout). Many internal delays are multiples of it.
	ClusterNodeTimeout int64

	// ClusterBusPort is the port of the node's cluster endpoint
	// (cluster-bus-port, a godisque extension). 0 = Port+BusPortOffset.
	ClusterBusPort int

	// ClusterSeeds are host:port bus addresses of nodes to join at start
	// (cluster-seeds, a godisque extension), besides those remembered in
	// ClusterConfigFile. A later directive replaces an earlier one.
	ClusterSeeds []string

	// ClusterEtcdEndpoints are etcd client URLs (http://host:port,
	// https://host:port, or host:port) through which the node also finds
	// the others (cluster-etcd-endpoints, a godisque extension): it
	// registers its bus address there under a lease and meets every node
	// registered. Empty = no etcd. Membership stays the gossip's; etcd
	// only introduces nodes. A later directive replaces an earlier one.
	ClusterEtcdEndpoints []string

	// ClusterEtcdPrefix is the etcd key prefix of the node entries
	// (cluster-etcd-prefix, a godisque extension): nodes sharing it find
	// each other. Never empty.
	ClusterEtcdPrefix string

	// Pprof is the host:port where the node serves Go's profiler,
	// net/http/pprof, for the time the process runs (pprof, a godisque
	// extension; the environment variable GODISQUE_PPROF overrides it).
	// Empty = not served. The profiler shows the process' internals to
	// whoever reaches the port: keep it on a loopback address.
	Pprof string
}

// Default returns the configuration of a node started without a config
// file: Disque's defaults (SPEC.md §4, §17).
func Default() *Config {
	return &Config{
		Port:                       DefaultPort,         // bus on 17711
		Bind:                       nil,                 // all interfaces
		TCPBacklog:                 511,                 // Redis' default backlog
		UnixSocket:                 "",                  // no Unix socket
		UnixSocketPerm:             0,                   // leave it to the umask
		Timeout:                    0,                   // idle clients are never closed
		TCPKeepAlive:               0,                   // no keepalive probes
		MaxClients:                 10000,               // as Disque
		ClientOutputBufferLimit:    ClientBufferLimit{}, // normal clients unlimited
		RequirePass:                "",                  // no AUTH
		Dir:                        "./",                // the process' working directory
		Daemonize:                  false,               // godisque never forks
		PidFile:                    "",                  // no pid file
		LogLevel:                   LogNotice,           // production verbosity
		LogFile:                    "",                  // standard output
		SyslogEnabled:              false,               // no syslog
		SyslogIdent:                "disque",            // as Disque
		SyslogFacility:             "local0",            // as Disque
		Databases:                  16,                  // Redis leftover, reported only
		ActiveRehashing:            true,                // Redis leftover, reported only
		Hz:                         10,                  // periodic tasks 10 times a second
		WatchdogPeriod:             0,                   // watchdog off
		SlowlogLogSlowerThan:       10000,               // 10 ms
		SlowlogMaxLen:              128,                 // entries
		LatencyMonitorThreshold:    0,                   // latency monitor off
		MaxMemory:                  1 << 30,             // 1 GB
		MaxMemoryPolicy:            PolicyAcks,          // evict acked jobs first
		MaxMemorySamples:           5,                   // jobs looked at per eviction round
		AppendOnly:                 false,               // in-memory only
		AppendFilename:             "disque.aof",        // inside Dir
		AppendFsync:                FsyncEverySec,       // lose at most ~1 s of writes
		NoAppendFsyncOnRewrite:     false,               // keep fsyncing during rewrites
		AutoAOFRewritePercentage:   100,                 // rewrite when the AOF doubles
		AutoAOFRewriteMinSize:      64 << 20,            // but not below 64 MB
		AOFRewriteIncrementalFsync: true,                // fsync rewrites every 32 MB
		AOFLoadTruncated:           true,                // cut a torn tail and start
		AOFEnqueueJobsOnce:         false,               // plain restarts
		ClusterConfigFile:          "nodes.conf",        // in Dir
		ClusterNodeTimeout:         15000,               // 15 s
		ClusterBusPort:             0,                   // Port+10000
		ClusterSeeds:               nil,                 // only nodes.conf and CLUSTER MEET
		ClusterEtcdEndpoints:       nil,                 // no etcd
		ClusterEtcdPrefix:          "/godisque/nodes/",  // as cluster.DefaultEtcdPrefix
	}
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	n := *c
	n.Bind = cloneStrings(c.Bind)
	n.ClusterSeeds = cloneStrings(c.ClusterSeeds)
	n.ClusterEtcdEndpoints = cloneStrings(c.ClusterEtcdEndpoints)
	if c.RenameCommands != nil {
		n.RenameCommands = append([]CommandRename(nil), c.RenameCommands...)
	}
	return &n
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s...)
}

// BusPort is the port of the node's cluster endpoint: ClusterBusPort, or
// Port+BusPortOffset when that is 0.
func (c *Config) BusPort() int {
	if c.ClusterBusPort != 0 {
		return c.ClusterBusPort
	}
	return c.Port + BusPortOffset
}

// AOFPath is the append-only file's path: AppendFilename inside Dir.
func (c *Config) AOFPath() string { return filepath.Join(c.Dir, c.AppendFilename) }

// ClusterConfigPath is the membership file's path: ClusterConfigFile
// inside Dir (or as is, when absolute).
func (c *Config) ClusterConfigPath() string {
	if filepath.IsAbs(c.ClusterConfigFile) {
		return c.ClusterConfigFile
	}
	return filepath.Join(c.Dir, c.ClusterConfigFile)
}

// NodeTimeout is ClusterNodeTimeout as a time.Duration.
func (c *Config) NodeTimeout() time.Duration {
	return time.Duration(c.ClusterNodeTimeout) * time.Millisecond
}

// -------------------------------------------------------------- Validate ----

// Validate checks every field and the rules between them, and normalises
// what Disque normalises rather than refuses: Hz is clamped to
// MinHz..MaxHz and enumerations are lower-cased. It returns every problem
// found, joined, each prefixed "config: ". Parse and Store.Set call it, so
// embedders who build a Config by hand should too.
func (c *Config) Validate() error {
	c.Hz = clampHz(int64(c.Hz))
	c.LogLevel = LogLevel(strings.ToLower(string(c.LogLevel)))
	c.MaxMemoryPolicy = MaxMemoryPolicy(strings.ToLower(string(c.MaxMemoryPolicy)))
	c.AppendFsync = FsyncPolicy(strings.ToLower(string(c.AppendFsync)))
	c.SyslogFacility = strings.ToLower(c.SyslogFacility)

	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: "+format, args...))
	}
	if c.Port < 0 || c.Port > 65535 {
		bad("port %d is out of range 0..65535", c.Port)
	} else if c.ClusterBusPort == 0 && c.Port > MaxPortWithDerivedBus {
		bad("port %d is too high: the cluster bus port is port+%d, so port must be <= %d unless cluster-bus-port is set",
			c.Port, BusPortOffset, MaxPortWithDerivedBus)
	}
	if c.ClusterBusPort < 0 || c.ClusterBusPort > 65535 {
		bad("cluster-bus-port %d is out of range 0..65535", c.ClusterBusPort)
	} else if c.ClusterBusPort != 0 && c.ClusterBusPort == c.Port {
		bad("cluster-bus-port %d is the client port", c.ClusterBusPort)
	}
	for _, a := range c.Bind {
		if a == "" {
			bad("bind: empty address")
		}
	}
	for _, s := range c.ClusterSeeds {
		if err := checkSeed(s); err != nil {
			bad("cluster-seeds: %v", err)
		}
	}
	for _, e := range c.ClusterEtcdEndpoints {
		if err := checkEtcdEndpoint(e); err != nil {
			bad("cluster-etcd-endpoints: %v", err)
		}
	}
	if c.ClusterEtcdPrefix == "" {
		bad("cluster-etcd-prefix must not be empty")
	}
	if c.Pprof != "" {
		if err := checkPprof(c.Pprof); err != nil {
			bad("pprof: %v", err)
		}
	}
	nonNegative := []struct {
		name string
		v    int64
	}{
		{"tcp-backlog", int64(c.TCPBacklog)},
		{"timeout", int64(c.Timeout)},
		{"tcp-keepalive", int64(c.TCPKeepAlive)},
		{"maxmemory", c.MaxMemory},
		{"auto-aof-rewrite-percentage", int64(c.AutoAOFRewritePercentage)},
		{"auto-aof-rewrite-min-size", c.AutoAOFRewriteMinSize},
		{"slowlog-max-len", c.SlowlogMaxLen},
		{"latency-monitor-threshold", c.LatencyMonitorThreshold},
		{"watchdog-period", int64(c.WatchdogPeriod)},
		{"client-output-buffer-limit hard limit", c.ClientOutputBufferLimit.HardBytes},
		{"client-output-buffer-limit soft limit", c.ClientOutputBufferLimit.SoftBytes},
		{"client-output-buffer-limit soft seconds", int64(c.ClientOutputBufferLimit.SoftSeconds)},
	}
	for _, f := range nonNegative {
		if f.v < 0 {
			bad("%s must not be negative (got %d)", f.name, f.v)
		}
	}
	positive := []struct {
		name string
		v    int64
	}{
		{"maxclients", int64(c.MaxClients)},
		{"maxmemory-samples", int64(c.MaxMemorySamples)},
		{"databases", int64(c.Databases)},
		{"cluster-node-timeout", c.ClusterNodeTimeout},
	}
	for _, f := range positive {
		if f.v < 1 {
			bad("%s must be 1 or greater (got %d)", f.name, f.v)
		}
	}
	if c.UnixSocketPerm > 0777 {
		bad("unixsocketperm %o is not a permission (0..777)", uint32(c.UnixSocketPerm))
	}
	if len(c.RequirePass) > MaxPasswordLen {
		bad("requirepass is longer than %d bytes", MaxPasswordLen)
	}
	if c.Dir == "" {
		bad("dir must not be empty")
	}
	if !isBaseName(c.AppendFilename) {
		bad("appendfilename %q must be a file name, not a path", c.AppendFilename)
	}
	if c.ClusterConfigFile == "" {
		bad("cluster-config-file must not be empty")
	}
	if !oneOf(string(c.LogLevel), logLevels) {
		bad("loglevel %q must be one of %s", c.LogLevel, strings.Join(logLevels, ", "))
	}
	if !oneOf(string(c.MaxMemoryPolicy), memoryPolicies) {
		bad("maxmemory-policy %q must be one of %s", c.MaxMemoryPolicy, strings.Join(memoryPolicies, ", "))
	}
	if !oneOf(string(c.AppendFsync), fsyncPolicies) {
		bad("appendfsync %q must be one of %s", c.AppendFsync, strings.Join(fsyncPolicies, ", "))
	}
	if !oneOf(c.SyslogFacility, syslogFacilities) {
		bad("syslog-facility %q must be user or local0..local7", c.SyslogFacility)
	}
	return errors.Join(errs...)
}

var (
	logLevels        = []string{"debug", "verbose", "notice", "warning"}
	memoryPolicies   = []string{"acks", "noeviction"}
	fsyncPolicies    = []string{"always", "everysec", "no"}
	syslogFacilities = []string{"user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}
)

// oneOf reports whether s is one of set, ignoring case.
func oneOf(s string, set []string) bool {
	for _, v := range set {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

func clampHz(hz int64) int {
	return int(min(max(hz, MinHz), MaxHz))
}

// isBaseName reports whether p is a bare, non-empty file name.
func isBaseName(p string) bool {
	return p != "" && !strings.ContainsAny(p, `/\`)
}

// checkSeed checks one cluster-seeds entry: host:port with a port in
// 1..65535.
func checkSeed(s string) error { return checkHostPort("seed", s, false) }

// checkPprof checks the pprof address: host:port, or :port for every
// interface, with a port in 1..65535.
func checkPprof(s string) error { return checkHostPort("pprof address", s, true) }

// checkHostPort checks the address s, named what in errors: host:port with
// a port in 1..65535; ":port" only when anyHost.
func checkHostPort(what, s string, anyHost bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" && !anyHost {
		return fmt.Errorf("%s %q must be host:port", what, s)
	}
	return checkPort(what, s, port)
}

// checkPort checks the port of the address s, named what in errors.
func checkPort(what, s, port string) error {
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%s %q has an invalid port", what, s)
	}
	return nil
}

// checkEtcdEndpoint checks one cluster-etcd-endpoints entry: an etcd
// client URL, http://host:port or https://host:port (unix:// and unixs://
// sockets too), or a bare host:port.
func checkEtcdEndpoint(s string) error {
	hostPort := s
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		switch strings.ToLower(scheme) {
		case "http", "https":
			hostPort = rest
		case "unix", "unixs":
			if rest == "" {
				return fmt.Errorf("etcd endpoint %q has no socket path", s)
			}
			return nil
		default:
			return fmt.Errorf("etcd endpoint %q must be http://host:port, https://host:port or host:port", s)
		}
	}
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil || host == "" || strings.ContainsAny(host, "/?#@") {
		return fmt.Errorf("etcd endpoint %q must be http://host:port, https://host:port or host:port", s)
	}
	return checkPort("etcd endpoint", s, port)
}
