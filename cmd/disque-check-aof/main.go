// Command disque-check-aof checks a godisque append-only file and, with
// --fix, repairs it by cutting it after its last valid frame, like Disque's
// (and Redis's) check-aof tool:
//
//	disque-check-aof [--fix [--yes]] <file.aof>
//
// It reads every frame, prints where the file stops being valid and why,
// then
//
//	AOF analyzed: size=<bytes>, ok_up_to=<offset>, diff=<bytes after it>
//
// and "AOF is valid" (exit 0) or "AOF is not valid" (exit 1). With --fix an
// invalid file is truncated at ok_up_to after the question "Continue? [y/N]:"
// is answered y on standard input; --yes answers it for scripts. Every
// record after ok_up_to is lost, including the good ones that follow damage
// in the middle of the file: make a copy first. A file that does not start
// with the godisque header is not fixed: it is probably not an AOF.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/godisque/godisque/actors/aof"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout)) }

const usage = "Usage: disque-check-aof [--fix [--yes]] <file.aof>"

// run is the whole command, for tests: arguments, the answer to the
// question, and where to print. It returns the exit code.
func run(args []string, stdin io.Reader, out io.Writer) int {
	var fix, yes bool
	var files []string
	for _, a := range args {
		switch a {
		case "--fix":
			fix = true
		case "--yes", "-y":
			yes = true
		case "-h", "--help":
			fmt.Fprintln(out, usage)
			return 0
		default:
			if strings.HasPrefix(a, "-") && a != "-" {
				fmt.Fprintf(out, "Invalid argument: %s\n%s\n", a, usage)
				return 1
			}
			files = append(files, a)
		}
	}
	if len(files) != 1 {
		fmt.Fprintln(out, usage)
		return 1
	}
	path := files[0]

	st, err := os.Stat(path)
	if err != nil || st.IsDir() {
		fmt.Fprintf(out, "Cannot open file: %s\n", path)
		return 1
	}
	if st.Size() == 0 {
		fmt.Fprintf(out, "Empty file: %s\n", path)
		return 1
	}

	res, err := aof.Load(path, aof.LoadOptions{}, nil)
	var ce *aof.CorruptError
	if err != nil && !errors.As(err, &ce) {
		fmt.Fprintf(out, "Cannot read %s: %v\n", path, err)
		return 1
	}
	if ce != nil {
		what := ce.Reason
		if ce.Torn {
			what = "Unexpected end of file: " + what
		}
		fmt.Fprintf(out, "Offset %d (0x%x): %s\n", ce.Offset, ce.Offset, what)
	}
	size, ok := res.Size, res.ValidSize
	diff := size - ok
	fmt.Fprintf(out, "AOF analyzed: size=%d, ok_up_to=%d, diff=%d\n", size, ok, diff)
	if ce == nil {
		fmt.Fprintf(out, "AOF is valid (%d records: %d LOADJOB, %d DELJOB, %d DELIVERED, %d QUEUED)\n",
			res.Records, res.Jobs, res.Deletes, res.Delivered, res.Requeued)
		return 0
	}
	if !fix {
		fmt.Fprintln(out, "AOF is not valid. Use the --fix option to try fixing it.")
		return 1
	}
	if ce.Offset == 0 && !ce.Torn {
		fmt.Fprintln(out, "Not a godisque AOF (bad header): refusing to fix it.")
		return 1
	}
	fmt.Fprintf(out, "This will shrink the AOF from %d bytes, with %d bytes, to %d bytes\n", size, diff, ok)
	if !yes {
		fmt.Fprint(out, "Continue? [y/N]: ")
		line, _ := bufio.NewReader(stdin).ReadString('\n')
		if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(line)), "y") {
			fmt.Fprintln(out, "Aborting...")
			return 1
		}
	}
	if err := aof.TruncateFile(path, ok); err != nil {
		fmt.Fprintf(out, "Failed to truncate AOF: %v\n", err)
		return 1
	}
	fmt.Fprintln(out, "Successfully truncated AOF")
	return 0
}
