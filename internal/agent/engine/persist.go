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

// savedTask is the saved form of a Task. Its Spec hides the Task's (a field
// of the embedded struct, one level deeper): the spec is written as the JSON
// it arrived in, and containers leave out their Def (tagged "-"). Encoding
// either would make encoding/json build encoders for the whole type graph of
// the ECS task definition, and encode that definition again at every save;
// decoding is lazy, and happens on restart and for snapshots only.
type savedTask struct {
	Spec json.RawMessage `json:"spec"`
	*taskFields
}

// taskFields is Task without its methods.
type taskFields Task

// encodeTask is t's saved form. A spec made in Go rather than decoded (by a
// test, say) is encoded once and keeps its encoding in Raw.
func encodeTask(t *Task) ([]byte, error) {
	if len(t.Spec.Raw) == 0 {
		raw, err := json.Marshal(t.Spec)
		if err != nil {
			return nil, err
		}
		t.Spec.Raw = raw
	}
	return json.Marshal(savedTask{Spec: t.Spec.Raw, taskFields: (*taskFields)(t)})
}

// decodeTask reads what encodeTask wrote, or a task saved by an earlier
// version (spec encoded from its fields, containers with their "def", which
// is ignored): each container's Def is derived from the spec again, as
// NewTask does.
func decodeTask(b []byte) (*Task, error) {
	t := new(Task)
	st := savedTask{taskFields: (*taskFields)(t)}
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(st.Spec, &t.Spec); err != nil {
		return nil, fmt.Errorf("decoding the spec: %w", err)
	}
	defs := containerDefs(&t.Spec)
	for _, c := range t.Containers {
		for _, d := range defs {
			if deref(d.Name) == c.Name {
				c.Def = d
				break
			}
		}
	}
	return t, nil
}

// save writes t atomically (temp file and rename) and returns the bytes, which
// double as the read-only snapshot for the metadata endpoint.
func (e *Engine) save(t *Task) ([]byte, error) {
	b, err := encodeTask(t)
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
		t, err := decodeTask(b)
		if err != nil {
			// A torn or foreign file must not stop the agent: the task's
			// containers are still found by label.
			e.log.Warn("ignoring unreadable saved task", "file", ent.Name(), "err", err)
			continue
		}
		tasks = append(tasks, t)
	}
	return tasks, nil
}
