package gateway

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ----------------------------------- INFO ------------------------------------
//
// INFO [section] (SPEC.md §5.17): `field:value` lines under `# Title`
// headers, sections separated by a blank line. The field names are Disque's,
// so that tools which parse INFO keep working; Go runtime figures are added
// beside them with a go_ prefix.

var infoSections = []string{"server", "clients", "memory", "jobs", "queues", "persistence", "stats", "cpu"}

// infoTitles are the section headers as Disque prints them.
var infoTitles = map[string]string{
	"server": "Server", "clients": "Clients", "memory": "Memory", "jobs": "Jobs", "queues": "Queues",
	"persistence": "Persistence", "stats": "Stats", "cpu": "CPU", "commandstats": "Commandstats",
}

// INFO [section]
func (s *Server) cmdINFO(c *client, args [][]byte) {
	if len(args) > 2 {
		c.err(ErrSyntax)
		return
	}
	which := "default"
	if len(args) == 2 {
		which = lower(args[1])
	}
	var parts []string
	switch which {
	case "default":
		parts = infoSections
	case "all":
		parts = append(append([]string{}, infoSections...), "commandstats")
	default:
		parts = []string{which}
	}
	var b strings.Builder
	for _, sec := range parts {
		lines := s.infoSection(sec)
		if lines == nil {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + infoTitles[sec] + "\r\n")
		for _, l := range lines {
			b.WriteString(l + "\r\n")
		}
	}
	c.conn.WriteBulkString(b.String())
}

// RunID is this process's random identity in INFO.
var runID = func() string {
	var b [20]byte
	f, err := os.Open("/dev/urandom")
	if err == nil {
		_, _ = f.Read(b[:])
		f.Close()
	}
	return fmt.Sprintf("%x", b)
}()

func (s *Server) infoSection(sec string) []string {
	cfg := s.settings()
	st := s.node.Stats()
	kv := func(k string, v any) string { return fmt.Sprintf("%s:%v", k, v) }
	var lines []string
	switch sec {
	case "server":
		up := time.Since(s.start)
		exe, _ := os.Executable()
		lines = []string{
			kv("disque_version", "1.0-rc1"), kv("godisque_version", Version),
			kv("disque_git_sha1", "00000000"), kv("disque_git_dirty", 0), kv("disque_build_id", "0"),
			kv("os", runtime.GOOS+" "+runtime.GOARCH), kv("arch_bits", strconv.IntSize),
			kv("multiplexing_api", "epoll"), kv("gcc_version", "0.0.0"), kv("go_version", runtime.Version()),
			kv("process_id", os.Getpid()), kv("run_id", runID), kv("tcp_port", s.port()),
			kv("uptime_in_seconds", int64(up.Seconds())), kv("uptime_in_days", int64(up.Hours()/24)),
			kv("hz", cfg.Hz), kv("executable", exe), kv("config_file", s.opts.Settings.Path()),
		}
	case "clients":
		s.mu.Lock()
		n := len(s.clients)
		s.mu.Unlock()
		lines = []string{kv("connected_clients", n), kv("client_longest_output_list", 0),
			kv("client_biggest_input_buf", 0), kv("blocked_clients", st.BlockedClients)}
	case "memory":
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		used := st.UsedMemory
		peak := s.stats.peakMemory(used)
		rss := rssBytes()
		frag := 0.0
		if used > 0 {
			frag = float64(rss) / float64(used)
		}
		lines = []string{kv("used_memory", used), kv("used_memory_human", human(used)),
			kv("used_memory_rss", rss), kv("used_memory_peak", peak), kv("used_memory_peak_human", human(peak)),
			kv("mem_fragmentation_ratio", fmt.Sprintf("%.2f", frag)), kv("mem_allocator", "go"),
			kv("maxmemory", cfg.MaxMemory), kv("memory_level", st.MemoryLevel),
			kv("go_heap_alloc", ms.HeapAlloc), kv("go_heap_sys", ms.HeapSys), kv("go_gc_count", ms.NumGC)}
	case "jobs":
		lines = []string{kv("registered_jobs", st.RegisteredJobs)}
	case "queues":
		lines = []string{kv("registered_queues", st.RegisteredQueues)}
	case "persistence":
		a := s.node.AOFStatus()
		current := int64(-1)
		if a.Rewriting {
			current = int64(time.Since(a.RewriteStarted).Seconds())
		}
		lines = []string{kv("loading", b2i(s.node.Loading())), kv("aof_enabled", b2i(a.Enabled)), kv("aof_state", a.State),
			kv("aof_rewrite_in_progress", b2i(a.Rewriting)), kv("aof_rewrite_scheduled", 0),
			kv("aof_last_rewrite_time_sec", a.LastRewriteSecs), kv("aof_current_rewrite_time_sec", current),
			kv("aof_last_bgrewrite_status", a.LastRewriteStatus), kv("aof_last_write_status", a.LastWriteStatus)}
		if a.Enabled {
			lines = append(lines, kv("aof_current_size", a.CurrentSize), kv("aof_base_size", a.BaseSize),
				kv("aof_pending_rewrite", 0), kv("aof_buffer_length", a.Buffered),
				kv("aof_rewrite_buffer_length", a.RewriteBuffered), kv("aof_pending_bio_fsync", 0),
				kv("aof_delayed_fsync", 0))
		}
	case "stats":
		lines = []string{kv("total_connections_received", s.stats.connections.Load()),
			kv("total_commands_processed", s.stats.commands.Load()),
			kv("instantaneous_ops_per_sec", s.stats.opsPerSec()),
			kv("total_net_input_bytes", s.stats.netIn.Load()), kv("total_net_output_bytes", s.stats.netOut.Load()),
			kv("instantaneous_input_kbps", "0.00"), kv("instantaneous_output_kbps", "0.00"),
			kv("rejected_connections", s.stats.rejected.Load()), kv("latest_fork_usec", 0)}
	case "cpu":
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		tv := func(t syscall.Timeval) string {
			return fmt.Sprintf("%.2f", float64(t.Sec)+float64(t.Usec)/1e6)
		}
		lines = []string{kv("used_cpu_sys", tv(ru.Stime)), kv("used_cpu_user", tv(ru.Utime)),
			kv("used_cpu_sys_children", "0.00"), kv("used_cpu_user_children", "0.00")}
	case "commandstats":
		names := make([]string, 0, len(s.table))
		for name, cmd := range s.table {
			if cmd.calls.Load() > 0 {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		lines = []string{}
		for _, name := range names {
			cmd := s.table[name]
			calls, usec := cmd.calls.Load(), cmd.usec.Load()
			lines = append(lines, fmt.Sprintf("cmdstat_%s:calls=%d,usec=%d,usec_per_call=%.2f",
				name, calls, usec, float64(usec)/float64(calls)))
		}
	default:
		return nil
	}
	if s.opts.Info != nil {
		lines = append(lines, s.opts.Info(sec)...)
	}
	return lines
}

// Version is godisque's version, in INFO as godisque_version.
const Version = "0.1.0"

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

// rssBytes reads the resident set size from /proc (0 where there is none).
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
