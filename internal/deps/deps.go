// Package deps pins the project's direct dependencies while packages are
// being written; it is removed once every dependency is imported for real.
package deps

import (
	_ "github.com/asynkron/protoactor-go/actor"
	_ "github.com/asynkron/protoactor-go/remote"
	_ "github.com/gogo/protobuf/proto"
	_ "github.com/google/btree"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/tidwall/redcon"
	_ "go.uber.org/zap"
	_ "go.uber.org/zap/exp/zapslog"
	_ "golang.org/x/sys/unix"
	_ "google.golang.org/protobuf/proto"
)
