package clustertest_test

import (
	"strings"
	"testing"

	"github.com/godisque/godisque/internal/clustertest"
)

func TestFiveNodesMeshAndClients(t *testing.T) {
	c := clustertest.Start(t, 5)
	if c.Len() != 5 {
		t.Fatal(c.Len())
	}
	for i := 0; i < 5; i++ {
		if r := c.Do(i, "PING"); r != "PONG" {
			t.Fatalf("node %d: %v", i, r)
		}
		if info := c.Do(i, "CLUSTER", "INFO").(string); !strings.Contains(info, "cluster_reachable_nodes:4\r\n") {
			t.Fatalf("node %d: %s", i, info)
		}
		if c.N(i).Node().Cluster().Size() != 5 || c.ID(i) != c.N(i).Node().ID() {
			t.Fatalf("node %d", i)
		}
	}
}

func TestPartitionAndHeal(t *testing.T) {
	c := clustertest.Start(t, 3)
	c.Partition([]int{0}, []int{1, 2})
	// The majority side agrees: fail. The lone node has no one to agree
	// with: fail?.
	c.WaitFlags(1, 0, "fail")
	c.WaitFlags(2, 0, "fail")
	c.WaitFlags(0, 1, "fail?")
	c.WaitFlags(0, 2, "fail?")
	if f := c.Flags(1, 2); f != "noflags" {
		t.Fatalf("inside the majority: %q", f)
	}
	c.Heal()
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			if i != j {
				c.WaitFlags(i, j, "noflags")
			}
		}
	}
}

func TestKillAndRestartKeepIdentity(t *testing.T) {
	c := clustertest.Start(t, 3)
	id, addr := c.ID(1), c.Addr(1)
	c.Kill(1)
	if c.N(1).Alive() || c.N(1).Node() != nil {
		t.Fatal("killed node alive")
	}
	if _, err := c.Try(1, "PING"); err == nil {
		t.Fatal("a killed node answered")
	}
	c.WaitFailing(0, 1)
	c.Restart(1) // waits for the mesh
	if c.ID(1) != id || c.Addr(1) != addr || c.N(1).Node().ID() != id {
		t.Fatalf("restarted as %s at %s", c.N(1).Node().ID(), c.Addr(1))
	}
	if r := c.Do(1, "PING"); r != "PONG" {
		t.Fatal(r)
	}
	c.WaitFlags(0, 1, "noflags")
}

func TestWithoutMesh(t *testing.T) {
	c := clustertest.Start(t, 2, clustertest.WithoutMesh())
	if info := c.Do(0, "CLUSTER", "INFO").(string); !strings.Contains(info, "cluster_known_nodes:1\r\n") {
		t.Fatal(info)
	}
	c.Do(1, "CLUSTER", "MEET", "127.0.0.1", c.N(0).Port)
	c.WaitMesh()
}
