package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// stateDir holds one JSON file per task, written by the task's goroutine
// only, so saving never needs a lock.
func (e *Engine) stateDir() string { return filepath.Join(e.cfg.DataDir, "tasks") }

func (e *Engine) taskFile(t *Task) string { return filepath.Join(e.stateDir(), t.ID()+".json") }

// save writes t atomically (temp file and rename) and returns the bytes, which
// double as the read-only snapshot for the metadata endpoint.
func (e *Engine) save(t *Task) ([]byte, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encoding task %s: %w", t.ARN, err)
	}
	if e.cfg.DataDir == "" {
		return b, nil
	}
	path := e.taskFile(t)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return b, fmt.Errorf("saving task %s: %w", t.ARN, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return b, fmt.Errorf("saving task %s: %w", t.ARN, err)
	}
	return b, nil
}

func (e *Engine) forget(t *Task) error {
	if e.cfg.DataDir == "" {
		return nil
	}
	if err := os.Remove(e.taskFile(t)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// load reads every saved task.
func (e *Engine) load() ([]*Task, error) {
	if e.cfg.DataDir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(e.stateDir(), 0o700); err != nil {
		return nil, fmt.Errorf("creating the state dir: %w", err)
	}
	entries, err := os.ReadDir(e.stateDir())
	if err != nil {
		return nil, fmt.Errorf("reading the state dir: %w", err)
	}
	var tasks []*Task
	for _, ent := range entries {
		if !strings.HasSuffix(ent.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(e.stateDir(), ent.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading saved task: %w", err)
		}
		var t Task
		if err := json.Unmarshal(b, &t); err != nil {
			// A torn or foreign file must not stop the agent: the task's
			// containers are still found by label.
			e.log.Warn("ignoring unreadable saved task", "file", ent.Name(), "err", err)
			continue
		}
		tasks = append(tasks, &t)
	}
	return tasks, nil
}
