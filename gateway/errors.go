package gateway

import "strings"

// Error is an error reply exactly as it travels on the wire, without the
// leading '-' (redcon's WriteError and AppendError add it) and without the
// trailing CRLF. Parsers return values of this type so that a handler can
// write err.Error() verbatim: compatibility with Disque clients lives in
// these strings (SPEC.md §2 and §6), and tests compare them byte for byte.
//
// The first word is the error code clients switch on: ERR for generic
// errors, BADID, NOREPL, MAXLEN, PAUSED, NOJOB, TOOLATE, LEAVING, NOAUTH,
// OOM, MISCONF and LOADING for the Disque-specific ones.
type Error string

// Error returns the wire text of the error.
func (e Error) Error() string { return string(e) }

// ------------------------------------------------------ Generic errors -----
// SPEC.md §2. Redis 3.x texts, shared by every command.

const (
	// ErrSyntax is Redis' shared.syntaxerr: an unknown or misplaced option.
	ErrSyntax Error = "ERR syntax error"
	// ErrNotInteger is the generic integer parse failure
	// (getLongLongFromObjectOrReply with no custom message).
	ErrNotInteger Error = "ERR value is not an integer or out of range"
	// ErrNoAuth is returned to every command but AUTH while a password is
	// required and the client has not authenticated.
	ErrNoAuth Error = "NOAUTH Authentication required."
	// ErrOOM is returned to commands flagged "may use memory" (ADDJOB,
	// ENQUEUE, NACK) when memory cannot be brought under 95% (SPEC.md §14).
	ErrOOM Error = "OOM command not allowed when used memory > 'maxmemory'."
	// ErrLoading is returned while the append-only file is being loaded.
	ErrLoading Error = "LOADING Disque is loading the dataset in memory"
	// ErrMaxClients is sent on connect beyond maxclients.
	ErrMaxClients Error = "ERR max number of clients reached"
)

// errUnknownCommand is the reply to a command missing from the table. The
// name is echoed exactly as the client sent it (case and all).
func errUnknownCommand(name string) Error {
	return Error("ERR unknown command '" + name + "'")
}

// errArity is the reply to a command with the wrong number of arguments. It
// names the command in lower case, as Redis prints the table name.
func errArity(name string) Error {
	return Error("ERR wrong number of arguments for '" + strings.ToLower(name) + "' command")
}

// errMisconf is returned to write commands and PING after an AOF write
// error; reason is the strerror text.
func errMisconf(reason string) Error {
	return Error("MISCONF Errors writing to the AOF file: " + reason)
}

// ----------------------------------------------------- Protocol errors -----
// SPEC.md §2. Sent by the guard (guard.go) just before it closes a
// connection whose byte stream breaks the RESP framing rules or limits.

const (
	ErrProtoInlineTooBig   Error = "ERR Protocol error: too big inline request"
	ErrProtoUnbalanced     Error = "ERR Protocol error: unbalanced quotes in request"
	ErrProtoMbulkTooBig    Error = "ERR Protocol error: too big mbulk count string"
	ErrProtoMbulkInvalid   Error = "ERR Protocol error: invalid multibulk length"
	ErrProtoBulkTooBig     Error = "ERR Protocol error: too big bulk count string"
	ErrProtoBulkInvalid    Error = "ERR Protocol error: invalid bulk length"
	errProtoExpectedPrefix       = "ERR Protocol error: expected '$', got '"
)

// errProtoExpectedDollar is the error for a multibulk argument that does not
// start with '$'. got is the offending byte, written raw as Redis' %c does
// (a CR or LF becomes a space when the reply is encoded).
func errProtoExpectedDollar(got byte) Error {
	return Error(errProtoExpectedPrefix + string([]byte{got}) + "'")
}

// ------------------------------------------------ Disque-specific errors -----
// SPEC.md §6, in the order of the catalogue.

const (
	// ErrBadID: a job ID fails the shape check of SPEC.md §3.
	ErrBadID Error = "BADID Invalid Job ID format."

	ErrNoRepl        Error = "NOREPL Not enough reachable nodes for the requested replication level"
	ErrNoReplLeaving Error = "NOREPL Not enough reachable nodes for the requested replication level, since I'm unable to hold a copy of the message for the following reason: I'm leaving the cluster"
	ErrNoReplOOM     Error = "NOREPL Not enough reachable nodes for the requested replication level, since I'm unable to hold a copy of the message for the following reason: I'm out of memory"
	ErrNoReplTimeout Error = "NOREPL Timeout reached before replicating to the requested number of nodes"
	ErrNoReplRemoved Error = "NOREPL job removed (expired?) before the requested replication level was achieved"

	ErrMaxlenExceeded Error = "MAXLEN Queue is already longer than the specified MAXLEN count"
	ErrPaused         Error = "PAUSED Queue paused in input, try later"
	ErrNoJob          Error = "NOJOB Job not known in the context of this node."
	ErrTooLate        Error = "TOOLATE Half of job TTL already elapsed, you are no longer allowed to postpone the next delivery."
	ErrLeaving        Error = "LEAVING This node is leaving the cluster, please connect to a different one"

	// ADDJOB option errors. A value that is not an integer gets the same text
	// as one out of range (Disque tests getLongLongFromObject's result and
	// the range in one condition).
	ErrReplicateRange Error = "ERR REPLICATE must be between 1 and 65535"
	ErrTTL            Error = "ERR TTL must be a number > 0"
	ErrRetry          Error = "ERR RETRY time must be a non negative number"
	ErrDelay          Error = "ERR DELAY time must be a non negative number"
	ErrMaxlen         Error = "ERR MAXLEN must be a positive number"
	// ErrRetryZeroReplicate: note the double space before REPLICATE, as in
	// Disque's source (two concatenated C literals).
	ErrRetryZeroReplicate Error = "ERR With RETRY set to 0 please explicitly set  REPLICATE to 1 (at-most-once delivery)"
	ErrDelayTTL           Error = "ERR The specified DELAY is greater than TTL. Job refused since would never be delivered"
	ErrInternalCreate     Error = "ERR Internal error creating the job, check server logs"

	// GETJOB.
	ErrCount Error = "ERR COUNT must be a number greater than zero"

	// Timeouts (ADDJOB <ms-timeout>, GETJOB TIMEOUT).
	ErrTimeoutNotInteger Error = "ERR timeout is not an integer or out of range"
	ErrTimeoutNegative   Error = "ERR timeout is negative"

	// QSCAN and JSCAN.
	ErrJobState  Error = "ERR Invalid job state name"
	ErrReplyType Error = "ERR Invalid REPLY type, try ID or ALL"
	ErrCursor    Error = "ERR invalid cursor or option name"

	// LOADJOB from a client.
	ErrLoadJob Error = "ERR LOADJOB is a special command only processed from AOF"
)

// ---------------------------------------------------- Admin errors -----
// SPEC.md §5.18–5.22: CLUSTER, CONFIG, DEBUG, BGREWRITEAOF, SHUTDOWN, AUTH.

const (
	ErrClusterSubcommand  Error = "ERR Wrong CLUSTER subcommand or number of arguments"
	ErrInvalidNodeID      Error = "ERR Invalid node identifier"
	ErrForgetMyself       Error = "ERR I tried hard but I can't forget myself..."
	ErrClusterLeavingArg  Error = "ERR Wrong argument for CLUSTER LEAVING. Use 'yes' or 'no'"
	ErrConfigGetArity     Error = "ERR Wrong number of arguments for CONFIG GET"
	ErrConfigAOF          Error = "ERR Unable to turn on AOF. Check server logs."
	ErrConfigNoFile       Error = "ERR The server is running without a config file"
	ErrConfigSubcommand   Error = "ERR CONFIG subcommand must be one of GET, SET, RESETSTAT, REWRITE"
	ErrRewriteInProgress  Error = "ERR Background append only file rewriting already in progress"
	ErrShutdown           Error = "ERR Errors trying to SHUTDOWN. Check logs."
	ErrAuthNotSet         Error = "ERR Client sent AUTH, but no password is set"
	ErrAuthInvalid        Error = "ERR invalid password"
	errUnknownDebugPrefix       = "ERR Unknown DEBUG subcommand or wrong number of arguments for '"
)

// errInvalidTCPPort: CLUSTER MEET with a non-integer port.
func errInvalidTCPPort(port string) Error {
	return Error("ERR Invalid TCP port specified: " + port)
}

// errInvalidNodeAddress: CLUSTER MEET with a bad IP literal or port.
func errInvalidNodeAddress(ip, port string) Error {
	return Error("ERR Invalid node address specified: " + ip + ":" + port)
}

// errSavingConfig: CLUSTER SAVECONFIG failed.
func errSavingConfig(reason string) Error {
	return Error("ERR error saving the cluster node config: " + reason)
}

// errUnknownNode: CLUSTER FORGET of an ID nobody knows.
func errUnknownNode(id string) Error {
	return Error("ERR Unknown node " + id)
}

// errUnsupportedConfig: CONFIG SET of an unknown parameter.
func errUnsupportedConfig(name string) Error {
	return Error("ERR Unsupported CONFIG parameter: " + name)
}

// errInvalidConfigArg: CONFIG SET with a value the parameter refuses.
func errInvalidConfigArg(value, name string) Error {
	return Error("ERR Invalid argument '" + value + "' for CONFIG SET '" + name + "'")
}

// errUnknownDebug: DEBUG with an unknown subcommand or wrong argc.
func errUnknownDebug(sub string) Error {
	return Error(errUnknownDebugPrefix + sub + "'")
}
