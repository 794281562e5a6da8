package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ------------------------------------------------------- CONFIG errors ----

// The errors of Config.Set, Store.Set and Store.Rewrite are what the
// gateway sends to the client: their Error text is the reply line without
// the leading '-' (SPEC.md §5.19), so they carry no "config: " prefix.

// UnsupportedError is CONFIG SET of a parameter that does not exist or
// cannot be changed at run time.
type UnsupportedError struct{ Name string }

func (e *UnsupportedError) Error() string {
	return "ERR Unsupported CONFIG parameter: " + oneLine(e.Name)
}

// InvalidArgumentError is CONFIG SET with a value the parameter refuses.
type InvalidArgumentError struct{ Name, Value string }

func (e *InvalidArgumentError) Error() string {
	return "ERR Invalid argument '" + oneLine(e.Value) + "' for CONFIG SET '" + oneLine(e.Name) + "'"
}

// DirError is CONFIG SET dir to something that is not a usable directory.
type DirError struct{ Err error }

func (e *DirError) Error() string { return "ERR Changing directory: " + strerror(e.Err) }
func (e *DirError) Unwrap() error { return e.Err }

// RewriteError is a CONFIG REWRITE that could not write the file.
type RewriteError struct{ Err error }

func (e *RewriteError) Error() string { return "ERR Rewriting config file: " + strerror(e.Err) }
func (e *RewriteError) Unwrap() error { return e.Err }

// ErrNoConfigFile is CONFIG REWRITE on a server started without a file.
var ErrNoConfigFile = errors.New("ERR The server is running without a config file")

// oneLine keeps a client-supplied string from breaking a RESP error line,
// as Redis' addReplyErrorLength does.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// strerror renders an error as C's strerror would: the errno text,
// capitalised ("No such file or directory"), else the error itself.
func strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		if s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return oneLine(err.Error())
}

// --------------------------------------------------------- The table ----

// A param is one configuration directive: how the file sets it, how
// CONFIG SET sets it, how CONFIG GET shows it, and how CONFIG REWRITE
// writes it back. params lists them in CONFIG REWRITE order (Disque's).
type param struct {
	name string

	// minArgs and maxArgs bound the arguments after the name in the file
	// (maxArgs < 0: no bound); other counts are "Bad directive".
	minArgs, maxArgs int

	// load applies the file's arguments. Its error text is the message of
	// the ParseError; warning, if not "", becomes a Warning.
	load func(c *Config, args []string) (warning string, err error)

	// set applies a CONFIG SET value; nil for parameters CONFIG SET does
	// not accept (see settable). A plain error means "invalid argument".
	set func(c *Config, v string) error

	// get is the CONFIG GET value; nil for parameters it does not list.
	get func(c *Config) string

	// rewrite returns the argument lists of the lines CONFIG REWRITE
	// writes for the current value: usually one line, none when the value
	// is "unset" (an empty requirepass, no bind addresses).
	rewrite func(c *Config) [][]string
}

// getOrder is CONFIG GET's order, as observed on Disque (SPEC.md §17).
var getOrder = strings.Fields(`requirepass unixsocket logfile pidfile
	maxmemory maxmemory-samples timeout auto-aof-rewrite-percentage
	auto-aof-rewrite-min-size slowlog-log-slower-than
	latency-monitor-threshold slowlog-max-len port tcp-backlog databases
	maxclients watchdog-period hz cluster-node-timeout tcp-keepalive
	no-appendfsync-on-rewrite daemonize activerehashing
	aof-rewrite-incremental-fsync aof-load-truncated aof-enqueue-jobs-once
	maxmemory-policy loglevel appendfsync syslog-facility appendonly dir
	client-output-buffer-limit unixsocketperm bind`)

// settable is what CONFIG SET accepts: SPEC.md §17's list, plus
// no-appendfsync-on-rewrite, which Disque's source also accepts.
var settable = strings.Fields(`requirepass maxclients appendonly dir
	client-output-buffer-limit aof-rewrite-incremental-fsync
	aof-load-truncated activerehashing tcp-keepalive aof-enqueue-jobs-once
	maxmemory-samples timeout auto-aof-rewrite-percentage
	auto-aof-rewrite-min-size slowlog-log-slower-than slowlog-max-len
	latency-monitor-threshold cluster-node-timeout hz watchdog-period
	maxmemory loglevel maxmemory-policy appendfsync
	no-appendfsync-on-rewrite`)

var params = []param{
	boolParam("daemonize", func(c *Config) *bool { return &c.Daemonize }).
		warnIf(func(c *Config) bool { return c.Daemonize }, "godisque does not daemonize; run it under a process supervisor"),
	stringParam("pidfile", func(c *Config) *string { return &c.PidFile }, true, nil),
	intParam("port", func(c *Config) *int { return &c.Port }, 0, 65535, "Invalid port"),
	intParam("tcp-backlog", func(c *Config) *int { return &c.TCPBacklog }, 0, math.MaxInt32, "Invalid backlog value"),
	listParam("bind", func(c *Config) *[]string { return &c.Bind }, 16, nil),
	stringParam("unixsocket", func(c *Config) *string { return &c.UnixSocket }, true, nil),
	unixSocketPermParam(),
	intParam("timeout", func(c *Config) *int { return &c.Timeout }, 0, math.MaxInt64, "Invalid timeout value"),
	intParam("tcp-keepalive", func(c *Config) *int { return &c.TCPKeepAlive }, 0, math.MaxInt32, "Invalid tcp-keepalive value"),
	enumParam("loglevel", func(c *Config) *LogLevel { return &c.LogLevel }, logLevels,
		"Invalid log level. Must be one of debug, verbose, notice, warning"),
	stringParam("logfile", func(c *Config) *string { return &c.LogFile }, false, nil),
	boolParam("syslog-enabled", func(c *Config) *bool { return &c.SyslogEnabled }).
		warnIf(func(c *Config) bool { return c.SyslogEnabled }, "godisque does not log to syslog; set logfile instead"),
	stringParam("syslog-ident", func(c *Config) *string { return &c.SyslogIdent }, false, nil).
		warnIf(always, "ignored: godisque does not log to syslog"),
	enumParam("syslog-facility", func(c *Config) *string { return &c.SyslogFacility }, syslogFacilities,
		"Invalid log facility. Must be one of USER or between LOCAL0-LOCAL7").
		warnIf(always, "ignored: godisque does not log to syslog"),
	dirParam(),
	stringParam("requirepass", func(c *Config) *string { return &c.RequirePass }, true, func(v string) error {
		if len(v) > MaxPasswordLen {
			return fmt.Errorf("Password is longer than %d characters", MaxPasswordLen)
		}
		return nil
	}),
	intParam("maxclients", func(c *Config) *int { return &c.MaxClients }, 1, math.MaxInt32, "Invalid max clients limit"),
	memParam("maxmemory", func(c *Config) *int64 { return &c.MaxMemory }, "Invalid maxmemory value"),
	enumParam("maxmemory-policy", func(c *Config) *MaxMemoryPolicy { return &c.MaxMemoryPolicy }, memoryPolicies,
		"Invalid maxmemory policy"),
	intParam("maxmemory-samples", func(c *Config) *int { return &c.MaxMemorySamples }, 1, math.MaxInt32,
		"maxmemory-samples must be 1 or greater"),
	boolParam("appendonly", func(c *Config) *bool { return &c.AppendOnly }),
	stringParam("appendfilename", func(c *Config) *string { return &c.AppendFilename }, false, func(v string) error {
		if !isBaseName(v) {
			return errors.New("appendfilename can't be a path, just a filename")
		}
		return nil
	}),
	enumParam("appendfsync", func(c *Config) *FsyncPolicy { return &c.AppendFsync }, fsyncPolicies,
		"argument must be 'no', 'always' or 'everysec'"),
	boolParam("no-appendfsync-on-rewrite", func(c *Config) *bool { return &c.NoAppendFsyncOnRewrite }),
	intParam("auto-aof-rewrite-percentage", func(c *Config) *int { return &c.AutoAOFRewritePercentage }, 0, math.MaxInt32,
		"Invalid negative percentage for AOF auto rewrite"),
	memParam("auto-aof-rewrite-min-size", func(c *Config) *int64 { return &c.AutoAOFRewriteMinSize },
		"Invalid auto-aof-rewrite-min-size value"),
	stringParam("cluster-config-file", func(c *Config) *string { return &c.ClusterConfigFile }, false, func(v string) error {
		if v == "" {
			return errors.New("cluster-config-file can't be empty")
		}
		return nil
	}),
	intParam("cluster-node-timeout", func(c *Config) *int64 { return &c.ClusterNodeTimeout }, 1, math.MaxInt64,
		"cluster node timeout must be 1 or greater"),
	intParam("slowlog-log-slower-than", func(c *Config) *int64 { return &c.SlowlogLogSlowerThan }, math.MinInt64, math.MaxInt64,
		"Invalid slowlog-log-slower-than value"),
	intParam("latency-monitor-threshold", func(c *Config) *int64 { return &c.LatencyMonitorThreshold }, 0, math.MaxInt64,
		"The latency threshold can't be negative"),
	intParam("slowlog-max-len", func(c *Config) *int64 { return &c.SlowlogMaxLen }, 0, math.MaxInt64,
		"Invalid slowlog-max-len value"),
	boolParam("activerehashing", func(c *Config) *bool { return &c.ActiveRehashing }),
	clientOutputBufferLimitParam(),
	hzParam(),
	boolParam("aof-rewrite-incremental-fsync", func(c *Config) *bool { return &c.AOFRewriteIncrementalFsync }),
	boolParam("aof-load-truncated", func(c *Config) *bool { return &c.AOFLoadTruncated }),
	boolParam("aof-enqueue-jobs-once", func(c *Config) *bool { return &c.AOFEnqueueJobsOnce }),
	// Not rewritten by Disque, or not Disque's at all:
	intParam("databases", func(c *Config) *int { return &c.Databases }, 1, math.MaxInt32, "Invalid number of databases").
		warnIf(always, "ignored: databases is a Redis leftover"),
	intParam("watchdog-period", func(c *Config) *int { return &c.WatchdogPeriod }, 0, math.MaxInt32,
		"Invalid watchdog-period value"),
	intParam("cluster-bus-port", func(c *Config) *int { return &c.ClusterBusPort }, 0, 65535, "Invalid cluster-bus-port"),
	listParam("cluster-seeds", func(c *Config) *[]string { return &c.ClusterSeeds }, -1, checkSeed),
	listParam("cluster-etcd-endpoints", func(c *Config) *[]string { return &c.ClusterEtcdEndpoints }, -1, checkEtcdEndpoint),
	stringParam("cluster-etcd-prefix", func(c *Config) *string { return &c.ClusterEtcdPrefix }, false, func(v string) error {
		if v == "" {
			return errors.New("cluster-etcd-prefix can't be empty")
		}
		return nil
	}),
	stringParam("pprof", func(c *Config) *string { return &c.Pprof }, true, func(v string) error {
		if v == "" {
			return nil // not served
		}
		return checkPprof(v)
	}),
	renameCommandParam(),
}

// paramsByName indexes params; it also checks, once, that the documented
// lists name only parameters that exist.
var paramsByName = func() map[string]*param {
	m := make(map[string]*param, len(params))
	for i := range params {
		m[params[i].name] = &params[i]
	}
	for _, name := range getOrder {
		if m[name] == nil || m[name].get == nil {
			panic("config: CONFIG GET lists unknown parameter " + name)
		}
	}
	allowed := make(map[string]bool, len(settable))
	for _, name := range settable {
		if m[name] == nil || m[name].set == nil {
			panic("config: CONFIG SET lists unknown parameter " + name)
		}
		allowed[name] = true
	}
	for _, p := range m {
		if !allowed[p.name] {
			p.set = nil
		}
	}
	return m
}()

// ------------------------------------------------------ CONFIG GET/SET ----

// Get is CONFIG GET: the flat name/value list of the parameters whose name
// matches the glob pattern (Redis syntax, case-insensitive), in Disque's
// order (SPEC.md §17). Booleans are yes/no, sizes plain bytes, dir an
// absolute path. Names outside that list, such as "save", match nothing.
func (c *Config) Get(pattern string) []string {
	var out []string
	for _, name := range getOrder {
		if Match(pattern, name) {
			out = append(out, name, paramsByName[name].get(c))
		}
	}
	return out
}

// Set is CONFIG SET on c, which it modifies: the name is case-insensitive,
// maxmemory and the other sizes accept units (3mb). Errors are
// *UnsupportedError, *InvalidArgumentError or *DirError, ready to be sent
// to the client verbatim. Set checks the one value; Store.Set also checks
// the whole result with Validate.
//
// Side effects belong to the caller: turning appendonly on must also start
// the AOF (and answer "-ERR Unable to turn on AOF. Check server logs." if
// it cannot), and loglevel must reach the logger.
func (c *Config) Set(name, value string) error {
	p := paramsByName[strings.ToLower(name)]
	if p == nil || p.set == nil {
		return &UnsupportedError{Name: name}
	}
	if err := p.set(c, value); err != nil {
		var de *DirError
		if errors.As(err, &de) {
			return de
		}
		return &InvalidArgumentError{Name: name, Value: value}
	}
	return nil
}

// ------------------------------------------------ Parameter constructors ----

func always(*Config) bool { return true }

// warnIf makes p's file form produce msg as a Warning when cond holds
// after the directive is applied.
func (p param) warnIf(cond func(*Config) bool, msg string) param {
	load := p.load
	p.load = func(c *Config, args []string) (string, error) {
		w, err := load(c, args)
		if err == nil && w == "" && cond(c) {
			w = msg
		}
		return w, err
	}
	return p
}

// single builds a one-argument param whose file form and CONFIG SET share
// parse, and whose GET and REWRITE forms are format.
func single(name string, parse func(c *Config, v string) error, format func(c *Config) string) param {
	return param{
		name: name, minArgs: 1, maxArgs: 1,
		load: func(c *Config, args []string) (string, error) { return "", parse(c, args[0]) },
		set:  parse,
		get:  format,
		rewrite: func(c *Config) [][]string {
			return [][]string{{format(c)}}
		},
	}
}

// intParam is an integer in lo..hi; msg is the file's error text.
func intParam[T int | int64](name string, field func(*Config) *T, lo, hi int64, msg string) param {
	return single(name,
		func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < lo || n > hi || int64(T(n)) != n {
				return errors.New(msg)
			}
			*field(c) = T(n)
			return nil
		},
		func(c *Config) string { return strconv.FormatInt(int64(*field(c)), 10) })
}

// memParam is a non-negative byte count with optional units.
func memParam(name string, field func(*Config) *int64, msg string) param {
	p := single(name,
		func(c *Config, v string) error {
			n, err := ParseMemory(v)
			if err != nil {
				return errors.New(msg)
			}
			*field(c) = n
			return nil
		},
		func(c *Config) string { return strconv.FormatInt(*field(c), 10) })
	p.rewrite = func(c *Config) [][]string { return [][]string{{FormatMemory(*field(c))}} }
	return p
}

// boolParam is yes or no, in any case.
func boolParam(name string, field func(*Config) *bool) param {
	return single(name,
		func(c *Config, v string) error {
			switch strings.ToLower(v) {
			case "yes":
				*field(c) = true
			case "no":
				*field(c) = false
			default:
				return errors.New(msgYesNo)
			}
			return nil
		},
		func(c *Config) string { return yesNo(*field(c)) })
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// enumParam is one of values, in any case; stored lower-case.
func enumParam[T ~string](name string, field func(*Config) *T, values []string, msg string) param {
	return single(name,
		func(c *Config, v string) error {
			if !oneOf(v, values) {
				return errors.New(msg)
			}
			*field(c) = T(strings.ToLower(v))
			return nil
		},
		func(c *Config) string { return string(*field(c)) })
}

// stringParam is free text, checked by check when not nil. With
// emptyUnset, "" means "not set": CONFIG REWRITE then writes no line.
func stringParam(name string, field func(*Config) *string, emptyUnset bool, check func(string) error) param {
	p := single(name,
		func(c *Config, v string) error {
			if check != nil {
				if err := check(v); err != nil {
					return err
				}
			}
			*field(c) = v
			return nil
		},
		func(c *Config) string { return *field(c) })
	if emptyUnset {
		p.rewrite = func(c *Config) [][]string {
			if *field(c) == "" {
				return nil
			}
			return [][]string{{*field(c)}}
		}
	}
	return p
}

// listParam is one or more words (at most max when max >= 0), each
// checked by check when not nil; empty words are dropped, so `bind ""`
// clears the list. It is a file directive only.
func listParam(name string, field func(*Config) *[]string, max int, check func(string) error) param {
	return param{
		name: name, minArgs: 1, maxArgs: max,
		load: func(c *Config, args []string) (string, error) {
			var list []string
			for _, a := range args {
				if a == "" {
					continue
				}
				if check != nil {
					if err := check(a); err != nil {
						return "", errors.New(strings.TrimPrefix(err.Error(), "config: "))
					}
				}
				list = append(list, a)
			}
			*field(c) = list
			return "", nil
		},
		get: func(c *Config) string { return strings.Join(*field(c), " ") },
		rewrite: func(c *Config) [][]string {
			if len(*field(c)) == 0 {
				return nil
			}
			return [][]string{cloneStrings(*field(c))}
		},
	}
}

func unixSocketPermParam() param {
	return single("unixsocketperm",
		func(c *Config, v string) error {
			n, err := strconv.ParseUint(v, 8, 32)
			if err != nil || n > 0777 {
				return errors.New("Invalid socket file permissions")
			}
			c.UnixSocketPerm = os.FileMode(n)
			return nil
		},
		func(c *Config) string { return strconv.FormatUint(uint64(c.UnixSocketPerm), 8) })
}

// hzParam: the file clamps any integer into MinHz..MaxHz, as Disque does;
// CONFIG SET refuses a negative one first.
func hzParam() param {
	p := single("hz",
		func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errors.New("Invalid hz value")
			}
			c.Hz = clampHz(n)
			return nil
		},
		func(c *Config) string { return strconv.Itoa(c.Hz) })
	load := p.set
	p.set = func(c *Config, v string) error {
		if strings.HasPrefix(v, "-") {
			return errors.New("negative hz")
		}
		return load(c, v)
	}
	return p
}

// dirParam: CONFIG SET dir must name an existing directory (Disque chdirs
// there; godisque only checks that it could).
func dirParam() param {
	p := stringParam("dir", func(c *Config) *string { return &c.Dir }, false, func(v string) error {
		if v == "" {
			return errors.New("dir can't be empty")
		}
		return nil
	})
	p.get = func(c *Config) string {
		if abs, err := filepath.Abs(c.Dir); err == nil {
			return abs
		}
		return c.Dir
	}
	p.set = func(c *Config, v string) error {
		st, err := os.Stat(v)
		if err == nil && !st.IsDir() {
			err = syscall.ENOTDIR
		}
		if err != nil {
			return &DirError{Err: err}
		}
		c.Dir = v
		return nil
	}
	return p
}

// clientOutputBufferLimitParam: the file takes one class per line
// (normal <hard> <soft> <seconds>, sizes with units); Redis' slave and
// pubsub classes, which Disque lacks, load with a Warning. CONFIG SET
// takes the CONFIG GET form: a space-separated multiple of four words.
func clientOutputBufferLimitParam() param {
	return param{
		name: "client-output-buffer-limit", minArgs: 4, maxArgs: 4,
		load: func(c *Config, args []string) (string, error) {
			class := strings.ToLower(args[0])
			switch class {
			case "normal":
			case "slave", "replica", "pubsub", "master":
				return "ignored: Disque has no '" + class + "' clients", nil
			default:
				return "", errors.New("Unrecognized client limit class")
			}
			hard, err1 := ParseMemory(args[1])
			soft, err2 := ParseMemory(args[2])
			if err1 != nil || err2 != nil {
				return "", errors.New("Invalid memory limit in client-output-buffer-limit")
			}
			secs, err := strconv.ParseInt(args[3], 10, 32)
			if err != nil {
				return "", errors.New("Invalid number of seconds in soft limit")
			}
			if secs < 0 {
				return "", errors.New("Negative number of seconds in soft limit is invalid")
			}
			c.ClientOutputBufferLimit = ClientBufferLimit{HardBytes: hard, SoftBytes: soft, SoftSeconds: int(secs)}
			return "", nil
		},
		set: func(c *Config, v string) error {
			var words []string // like sdssplitlen: "" is no words
			if v != "" {
				words = strings.Split(v, " ")
			}
			if len(words)%4 != 0 {
				return errors.New("not a multiple of 4")
			}
			limit := c.ClientOutputBufferLimit
			for j := 0; j < len(words); j += 4 {
				if !strings.EqualFold(words[j], "normal") {
					return errors.New("bad class")
				}
				hard, err1 := ParseMemory(words[j+1])
				soft, err2 := ParseMemory(words[j+2])
				secs, err3 := strconv.ParseInt(words[j+3], 10, 32)
				if err1 != nil || err2 != nil || err3 != nil || secs < 0 {
					return errors.New("bad limit")
				}
				limit = ClientBufferLimit{HardBytes: hard, SoftBytes: soft, SoftSeconds: int(secs)}
			}
			c.ClientOutputBufferLimit = limit
			return nil
		},
		get: func(c *Config) string { return c.ClientOutputBufferLimit.String() },
		rewrite: func(c *Config) [][]string {
			l := c.ClientOutputBufferLimit
			return [][]string{{"normal", FormatMemory(l.HardBytes), FormatMemory(l.SoftBytes), strconv.Itoa(l.SoftSeconds)}}
		},
	}
}

// renameCommandParam records rename-command and warns that it has no
// effect. CONFIG REWRITE leaves its lines alone, as Disque does.
func renameCommandParam() param {
	return param{
		name: "rename-command", minArgs: 2, maxArgs: 2,
		load: func(c *Config, args []string) (string, error) {
			c.RenameCommands = append(c.RenameCommands, CommandRename{From: args[0], To: args[1]})
			return "ignored: godisque does not rename commands; " + args[0] + " keeps its name", nil
		},
	}
}
