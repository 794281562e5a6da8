// Command disque-server runs a godisque node:
//
//	disque-server [config-file] [--name value ...]
//
// like the original (SPEC.md §17): the file ("-" reads it from standard
// input) and then every `--name value` as one more config line. It stops
// cleanly on SIGTERM or SIGINT, or on a client's SHUTDOWN.
//
// --pprof 127.0.0.1:6060 (or the pprof directive, or the environment
// variable GODISQUE_PPROF=127.0.0.1:6060, which wins over both) serves Go's
// profiler (net/http/pprof) on that address, for finding where the time
// goes:
//
//	go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=10
//
// A pprof address that cannot be listened on is logged as an error; the
// node runs on without it.
//
// GODISQUE_CHAOS_BROKEN=ack-before-replication starts a deliberately broken
// node, for testing only: it answers ADDJOB before replicating the job (it
// keeps the one copy it received), so that the chaos playground can show
// that its checker catches a cluster that loses jobs (gateway.Breakage).
// Never set it on a node whose jobs matter.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // served only when asked for (pprof, GODISQUE_PPROF)
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	disque "github.com/godisque/godisque"
	"github.com/godisque/godisque/config"
	"github.com/godisque/godisque/gateway"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	path, overrides, err := config.ParseArgs(args)
	switch {
	case errors.Is(err, config.ErrVersion):
		fmt.Printf("godisque v=%s (Disque 1.0-rc1 compatible)\n", gateway.Version)
		return 0
	case errors.Is(err, config.ErrHelp):
		fmt.Println("Usage: disque-server [/path/to/disque.conf] [--name value ...]\n" +
			"       disque-server - (read the config from standard input)\n" +
			"       disque-server -v or --version\n" +
			"Examples:\n" +
			"       disque-server --port 7777\n" +
			"       disque-server /etc/disque/7711.conf --loglevel verbose")
		return 0
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg, warnings, err := config.Load(path, overrides, os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	log, err := newLogger(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = log.Sync() }()
	for _, w := range warnings {
		log.Warn(w.String())
	}
	broken, err := gateway.ParseBreakage(os.Getenv("GODISQUE_CHAOS_BROKEN"))
	if err != nil {
		log.Error("GODISQUE_CHAOS_BROKEN", zap.Error(err))
		return 1
	}
	if broken != "" {
		log.Warn("this node is broken on purpose, for testing (GODISQUE_CHAOS_BROKEN)", zap.String("breakage", string(broken)))
	}
	configPath := path
	if configPath == "-" {
		configPath = ""
	}
	var node *disque.Node
	var restarting atomic.Bool // main must wait for the exec, not exit
	crash := func(reason string) {
		log.Error("crashing on request", zap.String("reason", reason))
		_ = log.Sync()
		os.Exit(1) // abrupt: no clean stop, as a crash would be
	}
	restart := func(graceful bool, delay time.Duration) error {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("failed to restart the server: %w", err)
		}
		restarting.Store(true)
		go func() {
			time.Sleep(delay)
			if graceful {
				// DEBUG RESTART: rewrite the config file, stop cleanly
				// (the append-only file is committed), then start again.
				if node.Settings().Path() != "" {
					if err := node.Settings().Rewrite(); err != nil {
						log.Warn("restart: config rewrite", zap.Error(err))
					}
				}
				_ = node.Stop()
			}
			log.Info("restarting", zap.Bool("graceful", graceful))
			_ = log.Sync()
			err := syscall.Exec(exe, os.Args, os.Environ())
			log.Error("restart failed", zap.Error(err))
			os.Exit(1)
		}()
		return nil
	}
	node, err = disque.Start(context.Background(), disque.Config{
		Server: cfg, ConfigPath: configPath, Logger: log, Crash: crash, Restart: restart, Broken: broken,
	})
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		return 1
	}
	servePprof(log, cfg.Pprof, os.Getenv("GODISQUE_PPROF"))
	log.Info("ready to accept connections", zap.String("addr", node.Addr()), zap.String("node_id", node.ID()))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		log.Info("received signal, shutting down", zap.String("signal", s.String()))
	case <-node.Done():
		if restarting.Load() {
			select {} // DEBUG RESTART stopped the node; the exec replaces us
		}
		log.Info("shutdown requested by a client")
	}
	if err := node.Stop(); err != nil {
		log.Warn("stop", zap.Error(err))
	}
	log.Info("bye")
	return 0
}

// newLogger builds zap from loglevel and logfile ("" is standard output).
func newLogger(cfg *config.Config) (*zap.Logger, error) {
	level := zapcore.InfoLevel
	switch cfg.LogLevel {
	case config.LogDebug, config.LogVerbose:
		level = zapcore.DebugLevel
	case config.LogWarning:
		level = zapcore.WarnLevel
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.Encoding = "console"
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	zc.Sampling = nil
	if cfg.LogFile != "" {
		zc.OutputPaths = []string{cfg.LogFile}
		zc.ErrorOutputPaths = []string{cfg.LogFile}
	} else {
		zc.OutputPaths = []string{"stdout"}
	}
	return zc.Build()
}

// servePprof serves net/http/pprof on the environment's address, else the
// configured one, if any. It listens before returning, so that a bad or
// taken address is reported at start-up; the profiler is a diagnostic, and
// its failure does not stop the node.
func servePprof(log *zap.Logger, configured, env string) {
	addr := configured
	if env != "" {
		addr = env
	}
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("cannot serve pprof; the node runs without it", zap.String("addr", addr), zap.Error(err))
		return
	}
	log.Info("serving pprof", zap.String("addr", ln.Addr().String()))
	go func() {
		if err := http.Serve(ln, nil); err != nil {
			log.Warn("pprof stopped", zap.Error(err))
		}
	}()
}
