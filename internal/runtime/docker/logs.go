package docker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/berth-dev/berth/internal/runtime"
)

var (
	_ runtime.LogReader   = (*Runtime)(nil)
	_ runtime.StatsReader = (*Runtime)(nil)
)

// logsTimeout bounds a read of logs that does not follow: it reads what the
// log driver holds (at most its rotation limit) and ends.
const logsTimeout = 5 * time.Minute

// ContainerLogs reads a container's stdout and stderr with the engine's
// time stamps. Following has no timeout: it lasts as long as ctx and the
// container.
func (r *Runtime) ContainerLogs(ctx context.Context, id string, opts runtime.LogOptions, fn func(runtime.LogLine) error) error {
	if !opts.Follow {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, logsTimeout)
		defer cancel()
	}
	info, err := r.InspectContainer(ctx, id)
	if err != nil {
		return err
	}
	lo := container.LogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true, Follow: opts.Follow}
	if !opts.Since.IsZero() {
		lo.Since = fmt.Sprintf("%d.%09d", opts.Since.Unix(), opts.Since.Nanosecond())
	}
	if opts.Tail > 0 {
		lo.Tail = strconv.Itoa(opts.Tail)
	}
	body, err := r.cli.ContainerLogs(ctx, id, lo)
	if err != nil {
		return classify("container logs", id, err)
	}
	defer body.Close()
	if info.Tty {
		err = readRawLogs(body, fn)
	} else {
		err = readMuxedLogs(body, fn)
	}
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// readMuxedLogs reads Docker's multiplexed stream: frames of an 8-byte header
// (stream, 3 zero bytes, big-endian length) and a payload holding whole
// time-stamped lines.
func readMuxedLogs(r io.Reader, fn func(runtime.LogLine) error) error {
	br := bufio.NewReaderSize(r, 32<<10)
	var hdr [8]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("container logs: %w", err)
		}
		stream := runtime.Stdout
		switch hdr[0] {
		case 1:
		case 2:
			stream = runtime.Stderr
		default:
			return fmt.Errorf("container logs: unknown stream %d", hdr[0])
		}
		n := binary.BigEndian.Uint32(hdr[4:])
		if cap(payload) < int(n) {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(br, payload); err != nil {
			return fmt.Errorf("container logs: %w", err)
		}
		for _, line := range strings.SplitAfter(string(payload), "\n") {
			if line == "" {
				continue
			}
			if err := fn(parseLogLine(stream, line)); err != nil {
				return err
			}
		}
	}
}

// readRawLogs reads a TTY container's stream: no frames, one stream.
func readRawLogs(r io.Reader, fn func(runtime.LogLine) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if err := fn(parseLogLine(runtime.Stdout, sc.Text())); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("container logs: %w", err)
	}
	return nil
}

// parseLogLine splits "<RFC 3339 time> <text>\n".
func parseLogLine(stream, line string) runtime.LogLine {
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	ts, text, ok := strings.Cut(line, " ")
	if ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			return runtime.LogLine{Stream: stream, Time: t, Text: text}
		}
	}
	return runtime.LogLine{Stream: stream, Text: line}
}
