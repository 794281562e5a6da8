// Package aof is a node's append-only file: the durable log of its jobs
// (SPEC.md §15, DESIGN.md "Persistence"). It is a plain library, with no
// actors, goroutines or clocks: the aof actor owns a Writer, passes the time
// in, and decides what to do about errors.
//
// # What is logged
//
// Two records, as in Disque:
//
//   - LOADJOB, a *protocol.Job in storage form (absolute etime_ms, state and
//     flags as they are), written when a job becomes a durable local copy:
//     ADDJOB's local path, replication achieved, first REPLJOB received.
//     Later changes of state are not logged.
//   - DELJOB, a *protocol.DelJobMsg with only its ID, written when a job is
//     acknowledged, or deleted or expired while active or queued.
//
// Replay is idempotent, and every part of this package relies on it: LOADJOB
// of an ID replaces any job of that ID, and DELJOB of an unknown ID does
// nothing. Whoever applies Load's records must keep that contract.
//
// # Format
//
//	+-------------------+  "GODISQUE-AOF 1\n" (Magic, 15 bytes)
//	| header            |
//	+-------+-------+---+--------------------------------------+
//	| len   | crc   | payload: uvarint(kind) ‖ gogo bytes      |  frame
//	| u32le | u32le | len bytes; crc = CRC-32C(payload)         |
//	+-------+-------+------------------------------------------+
//	| ... one frame per record, nothing else ...               |
//
// kind is protocol.KindJob (LOADJOB), protocol.KindDelJobMsg (DELJOB) or
// protocol.KindWorkingMsg (DELIVERED),
// numbers that never change (protocol.Kind is append only). A length of 0
// or above MaxFrameSize (600 MB, above the 512 MB body limit) is impossible.
// The header names the format's version: a file this code cannot read is
// refused, never appended to.
//
// # Durability of each fsync policy (appendfsync)
//
// Records are buffered by Append and written by Commit, which the owner
// calls before it sends the replies that depend on them; so with every policy
// a reply is sent only after its record reached the kernel, and a crash of
// the process alone loses nothing that was answered.
//
//   - always: Commit also fsyncs. A record is on the disk before its reply.
//     Records are group-committed (Writer's doc): one write and one fsync per
//     batch, so throughput grows with concurrency instead of collapsing.
//   - everysec (the default): the owner's timer calls SyncIfDue, which
//     fsyncs about once a second. A power loss or kernel crash loses at most
//     about the last second.
//   - no: never fsynced by us (except on Close and rewrites); the operating
//     system decides when the data reaches the disk.
//
// # Torn tails and corruption
//
// A crash in the middle of a write leaves a torn tail: a last frame that is
// incomplete, or one that ends exactly at the end of the file but fails its
// checksum (pages of it were not written). With aof-load-truncated yes (the
// default) Load cuts it off, truncating the file after the last good frame,
// and the node starts with a log line; the records lost are the ones whose
// replies were never sent (always) or the last unsynced second (everysec).
// Anything else (a foreign header, a checksum failure with frames after it,
// an unknown kind, a payload that does not parse) is corruption: Load returns
// a *CorruptError with the offset, and the node refuses to start until
// someone runs disque-check-aof --fix, which truncates at the last good frame
// after asking. A damaged length field that points past the end of the file
// cannot be told from a torn tail and is cut as one: LoadResult reports how
// many bytes went (Size - ValidSize). A tail of zeros, which some
// filesystems leave after a power loss, is corruption (an impossible length
// followed by more bytes): disque-check-aof --fix removes it.
//
// # Disk errors
//
// A write that fails (disk full, read-only filesystem, file too large, I/O
// error) is undone, truncating a partial frame away, and its records stay
// buffered; LastError reports it, with the strerror text for
// "-MISCONF Errors writing to the AOF file: ...", until a write succeeds.
// SyncIfDue retries on every tick, so the node recovers by itself when space
// comes back.
//
// # Rewrites
//
// BGREWRITEAOF replaces the log by one LOADJOB per active or queued job
// without stopping the node: StartRewrite, a snapshot streamed into a
// temporary file while appends go on to the old file and into a rewrite
// buffer, then FinishRewrite appends the buffer, fsyncs, renames atomically
// and switches. rewrite.go states the protocol, why its result replays to
// exactly the live set, and why a crash at any moment leaves a loadable file.
//
// # Start-up
//
//	RemoveStaleTemps(path)                 // leftovers of a crashed rewrite
//	res, err := Load(path, LoadOptions{Truncate: loadTruncated}, apply)
//	if res.Truncated { log("AOF truncated at offset", res.ValidSize) }
//	w, err := Open(path, policy)           // appends after the last good frame
package aof
