package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// modelsDir is ../shared/aws-models beside the repository root, where CI and
// every development checkout keep the models.
func modelsDir(t *testing.T) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "..", "shared", "aws-models")
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("models directory %s is absent (it sits beside the repository as ../shared); cannot check generated code", dir)
	}
	return dir
}

// TestGeneratedCodeIsCurrent regenerates every service and fails, naming the
// files, when the committed output differs: run `go generate ./internal/awsapi`.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	t.Parallel()
	models := modelsDir(t)
	tmp := t.TempDir()
	if err := run(models, tmp, ""); err != nil {
		t.Fatal(err)
	}
	var stale []string
	for _, svc := range Services {
		want := filepath.Join(tmp, svc.Dir)
		have := filepath.Join("..", svc.Dir)
		wantFiles := readGoFiles(t, want, false)
		haveFiles := readGoFiles(t, have, true)
		for name, w := range wantFiles {
			if h, ok := haveFiles[name]; !ok || !bytes.Equal(h, w) {
				stale = append(stale, filepath.Join(svc.Dir, name))
			}
		}
		for name := range haveFiles {
			if _, ok := wantFiles[name]; !ok {
				stale = append(stale, filepath.Join(svc.Dir, name)+" (no longer generated)")
			}
		}
	}
	if len(stale) > 0 {
		slices.Sort(stale)
		t.Errorf("generated code is stale; run `go generate ./internal/awsapi`:\n\t%s", strings.Join(stale, "\n\t"))
	}
}

// readGoFiles reads the .go files of dir; onlyGenerated keeps those carrying
// the generator's header (hand-written tests live beside generated code).
func readGoFiles(t *testing.T, dir string, onlyGenerated bool) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if onlyGenerated && !bytes.HasPrefix(data, []byte(header)) {
			continue
		}
		out[e.Name()] = data
	}
	return out
}

// TestBotocoreDataLayout reads a model from a botocore-style data directory
// (gzipped, several versions) and picks the newest version.
func TestBotocoreDataLayout(t *testing.T) {
	t.Parallel()
	models := modelsDir(t)
	raw, err := os.ReadFile(filepath.Join(models, "ecs", "2014-11-13", "service-2.json"))
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	writeGz := func(version string, content []byte) {
		dir := filepath.Join(data, "ecs", version)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(content)
		zw.Close()
		if err := os.WriteFile(filepath.Join(dir, "service-2.json.gz"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeGz("2010-01-01", []byte(`{"metadata":{}, "shapes":{}, "operations":{}}`))
	writeGz("2014-11-13", raw)
	m, path, err := loadModel(data, "ecs")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(path, "2014-11-13") || m.Metadata.TargetPrefix != "AmazonEC2ContainerServiceV20141113" {
		t.Fatalf("loaded %s with metadata %+v, want the 2014-11-13 ECS model", path, m.Metadata)
	}
	files, err := generate(m, Service{Model: "ecs", Dir: "ecs", Pkg: "ecs"})
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(filepath.Join("..", "ecs", "api.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(files["api.go"], committed) {
		t.Error("api.go generated from the gzipped model differs from the committed one")
	}
}

func TestExportName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"taskDefinitionArn": "TaskDefinitionArn",
		"cpu":               "Cpu",
		"RoleARN":           "RoleARN",
		"vCpuCount":         "VCpuCount",
		"ResourceId":        "ResourceId",
		"1abc":              "X1abc",
		"a-b.c":             "Abc",
		"":                  "X",
	} {
		if got := exportName(in); got != want {
			t.Errorf("exportName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEnumValueName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"EC2":                  "Ec2",
		"FARGATE_SPOT":         "FargateSpot",
		"awsvpc":               "Awsvpc",
		"t2.micro":             "T2Micro",
		"RESOURCE:MEMORY":      "ResourceMemory",
		"ecs.capability.efs":   "EcsCapabilityEfs",
		"ContainerInstanceArn": "ContainerInstanceArn",
		"*":                    "",
	} {
		if got := enumValueName(in); got != want {
			t.Errorf("enumValueName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGoPattern(t *testing.T) {
	t.Parallel()
	tests := []struct {
		java    string
		ok      bool
		match   []string
		noMatch []string
	}{
		{java: `[a-z0-9]+`, ok: true, match: []string{"abc"}, noMatch: []string{"Abc", "ab c", ""}},
		{java: `^arn:aws:.*$`, ok: true, match: []string{"arn:aws:x"}, noMatch: []string{"xarn:aws:"}},
		{java: `^$|arn:.+`, ok: true, match: []string{"", "arn:x"}, noMatch: []string{"x"}},
		{java: `([\p{L}\p{Z}\p{N}_.:/=+\-@]*)`, ok: true, match: []string{"", "héllo wörld", "a:b"}, noMatch: []string{"a!b"}},
		{java: `\p{Print}+`, ok: true, match: []string{"a b~"}, noMatch: []string{"a\tb", ""}},
		{java: `[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\r\n\t]*`, ok: true,
			match: []string{"ok\n", "emoji 🚀"}, noMatch: []string{"\x01"}},
		{java: `(?!arn:).+`, ok: false},
		{java: `a++`, ok: false},
		{java: `^.{1,100000}$`, ok: false},
	}
	for _, tt := range tests {
		src, err := goPattern(tt.java)
		if (err == nil) != tt.ok {
			t.Errorf("goPattern(%q): err = %v, want ok=%v", tt.java, err, tt.ok)
			continue
		}
		if err != nil {
			continue
		}
		re := regexp.MustCompile(src)
		for _, s := range tt.match {
			if !re.MatchString(s) {
				t.Errorf("pattern %q (%s) does not match %q", tt.java, src, s)
			}
		}
		for _, s := range tt.noMatch {
			if re.MatchString(s) {
				t.Errorf("pattern %q (%s) matches %q", tt.java, src, s)
			}
		}
	}
}

// TestAllModelsGenerate runs the generator over every model in the shared
// directory, including services not generated yet, so a new service does not
// start with a generator bug.
func TestAllModelsGenerate(t *testing.T) {
	t.Parallel()
	models := modelsDir(t)
	entries, err := os.ReadDir(models)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel()
			pkg := strings.ReplaceAll(e.Name(), "-", "")
			if _, err := GenerateService(models, Service{Model: e.Name(), Dir: pkg, Pkg: pkg}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
