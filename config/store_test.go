package config

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

func TestStoreSet(t *testing.T) {
	s := NewStore(Default(), "")
	before := s.Load()
	if err := s.Set("maxmemory", "3mb"); err != nil {
		t.Fatal(err)
	}
	if before.MaxMemory != 1<<30 {
		t.Error("Set modified the old snapshot")
	}
	if got := s.Load().MaxMemory; got != 3<<20 {
		t.Errorf("maxmemory %d", got)
	}
	if err := s.Set("port", "1"); err == nil || err.Error() != "ERR Unsupported CONFIG parameter: port" {
		t.Errorf("err = %v", err)
	}
	if err := s.Set("hz", "x"); err == nil || err.Error() != "ERR Invalid argument 'x' for CONFIG SET 'hz'" {
		t.Errorf("err = %v", err)
	}
	if s.Load().MaxMemory != 3<<20 {
		t.Error("failed Set changed the config")
	}
}

func TestStoreUpdate(t *testing.T) {
	c := Default()
	c.AOFEnqueueJobsOnce = true
	s := NewStore(c, "")
	if err := s.Update(func(c *Config) error { c.AOFEnqueueJobsOnce = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if s.Load().AOFEnqueueJobsOnce || !c.AOFEnqueueJobsOnce {
		t.Error("Update did not swap a copy")
	}
	boom := errors.New("boom")
	if err := s.Update(func(c *Config) error { c.Hz = 99; return boom }); err != boom || s.Load().Hz != 10 {
		t.Errorf("failed Update: %v hz %d", err, s.Load().Hz)
	}
	if err := s.Update(func(c *Config) error { c.Port = 60000; return nil }); err == nil || s.Load().Port != 7711 {
		t.Errorf("invalid Update accepted: %v", err)
	}
}

func TestStoreRewrite(t *testing.T) {
	if err := NewStore(Default(), "").Rewrite(); err != ErrNoConfigFile ||
		err.Error() != "ERR The server is running without a config file" {
		t.Errorf("err = %v", err)
	}
	if p := NewStore(Default(), "-").Path(); p != "" {
		t.Errorf("stdin config has path %q", p)
	}
	path := filepath.Join(t.TempDir(), "disque.conf")
	if err := os.WriteFile(path, []byte("port 7711\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := NewStore(Default(), path)
	if s.Path() != path {
		t.Errorf("path %q", s.Path())
	}
	if err := s.Set("aof-enqueue-jobs-once", "yes"); err != nil {
		t.Fatal(err)
	}
	if err := s.Rewrite(); err != nil {
		t.Fatal(err)
	}
	c, _, err := Load(path, "", nil)
	if err != nil || !c.AOFEnqueueJobsOnce {
		t.Errorf("rewritten file: %v %+v", err, c)
	}
	bad := NewStore(Default(), filepath.Join(t.TempDir(), "no", "such", "dir.conf"))
	var re *RewriteError
	if err := bad.Rewrite(); !errors.As(err, &re) || err.Error() != "ERR Rewriting config file: No such file or directory" {
		t.Errorf("err = %v", err)
	}
}

// Readers and writers at once: run with -race.
func TestStoreConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disque.conf")
	s := NewStore(Default(), path)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if err := s.Set("maxmemory-samples", strconv.Itoa(1+w*1000+i)); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					if err := s.Rewrite(); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}(w)
	}
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				c := s.Load()
				if c.MaxMemorySamples < 1 || len(c.Get("maxmemory*")) != 6 {
					t.Error("torn snapshot")
					return
				}
			}
		}()
	}
	wg.Wait()
	c, _, err := Load(path, "", nil)
	if err != nil || c.MaxMemorySamples < 1 {
		t.Errorf("final file: %v", err)
	}
}
