package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlaudit/mlaudit/audit"
	"github.com/mlaudit/mlaudit/internal/testregistry"
)

// auditShard runs one audit of host's catalog, writing JSON to file, with
// more arguments (a --shard) and environment, and returns the exit code
// and the report.
func auditShard(t *testing.T, host, file string, env []string, more ...string) (int, jsonReport) {
	t.Helper()
	args := append([]string{"audit", "--format", "json", "--require", "linux/amd64,linux/arm64", "--output", file, host + "/"}, more...)
	r := runIn(t, t.TempDir(), nil, env, args...)
	if r.code != 0 && r.code != 1 && r.code != 3 {
		t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return r.code, decode(t, string(raw))
}

// byRepository groups findings by repository, each group in report
// order.
func byRepository(findings []audit.Finding) map[string][]string {
	out := map[string][]string{}
	for _, f := range findings {
		key := f.Ref.Repo().String()
		out[key] = append(out[key], f.String())
	}
	return out
}

func imageList(images []audit.Image) []string {
	var out []string
	for _, img := range images {
		out = append(out, img.Ref.String()+"@"+img.Digest)
	}
	return out
}

func errorList(errs []audit.TargetError) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Ref.String()+": "+e.Message)
	}
	slices.Sort(out)
	return out
}

// TestShardsMergeIntoOneRun audits the stories' registry in three shards:
// every repository is in exactly one shard, and merging the shards gives
// the images, findings, errors and exit code of one unsharded run.
func TestShardsMergeIntoOneRun(t *testing.T) {
	host := testregistry.InProcess(t, nil)
	seedStories(t, host)
	dir := t.TempDir()
	wholeCode, whole := auditShard(t, host, filepath.Join(dir, "whole.json"), nil)
	if len(whole.Images) < 10 || whole.Shard != nil {
		t.Fatalf("the unsharded run audited %d images (shard %v)", len(whole.Images), whole.Shard)
	}
	shardOf := map[string][]int{}
	var files []string
	for i := range 3 {
		file := filepath.Join(dir, "shard-"+strconv.Itoa(i)+".json")
		_, rep := auditShard(t, host, file, nil, "--shard", strconv.Itoa(i)+"/3")
		if rep.Shard == nil || *rep.Shard != (audit.Shard{Index: i, Count: 3}) {
			t.Errorf("shard %d/3 records %v", i, rep.Shard)
		}
		if len(rep.Images) == 0 || len(rep.Images) == len(whole.Images) {
			t.Errorf("shard %d/3 holds %d of %d images: not a share", i, len(rep.Images), len(whole.Images))
		}
		for _, img := range rep.Images {
			if repo := img.Ref.Repo().String(); !slices.Contains(shardOf[repo], i) {
				shardOf[repo] = append(shardOf[repo], i)
			}
		}
		files = append(files, file)
	}
	for _, img := range whole.Images {
		if shards := shardOf[img.Ref.Repo().String()]; len(shards) != 1 {
			t.Errorf("%s is in shards %v, want exactly one", img.Ref.Repo(), shards)
		}
	}

	// Given in any order.
	r := mlaudit(t, "", "merge", "--format", "json", files[2], files[0], files[1])
	if r.code != wholeCode {
		t.Errorf("merge: exit %d, the unsharded run %d\n%s", r.code, wholeCode, r.stderr)
	}
	merged := decode(t, r.stdout)
	if got, want := imageList(merged.Images), imageList(whole.Images); !slices.Equal(got, want) {
		t.Errorf("merged images differ from the unsharded run's:\n%s\n---\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got, want := byRepository(merged.Findings), byRepository(whole.Findings)
	if len(merged.Findings) != len(whole.Findings) || len(got) != len(want) {
		t.Errorf("merged: %d findings in %d repositories, unsharded: %d in %d", len(merged.Findings), len(got), len(whole.Findings), len(want))
	}
	for repo, w := range want {
		if !slices.Equal(got[repo], w) {
			t.Errorf("%s: merged findings\n%s\nunsharded\n%s", repo, strings.Join(got[repo], "\n"), strings.Join(w, "\n"))
		}
	}
	if got, want := errorList(merged.Errors), errorList(whole.Errors); !slices.Equal(got, want) {
		t.Errorf("merged errors %v, unsharded %v", got, want)
	}
	if merged.Shard != nil || merged.CompletenessNotChecked != whole.CompletenessNotChecked {
		t.Errorf("merged: shard %v, completenessNotChecked %q", merged.Shard, merged.CompletenessNotChecked)
	}

	// Any format, the same exit code rules.
	for _, format := range []string{"table", "sarif", "junit"} {
		if r := mlaudit(t, "", "merge", "--format", format, files[0], files[1], files[2]); r.code != wholeCode || r.stdout == "" {
			t.Errorf("merge --format %s: exit %d, want %d\n%s", format, r.code, wholeCode, r.stderr)
		}
	}
	if r := mlaudit(t, "", "merge", "--fail-on", "never", files[0], files[1], files[2]); r.code != 0 && r.code != 3 {
		t.Errorf("merge --fail-on never: exit %d", r.code)
	}
	out := filepath.Join(dir, "merged.html")
	if r := mlaudit(t, "", append([]string{"merge", "--format", "html", "--output", out}, files...)...); r.code != wholeCode || !strings.Contains(r.stdout, "Report written to") {
		t.Errorf("merge --output: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// One whole report, in another format.
	if r := mlaudit(t, "", "merge", "--format", "markdown", filepath.Join(dir, "whole.json")); r.code != wholeCode || !strings.Contains(r.stdout, "mlaudit") {
		t.Errorf("merge of one report: exit %d\n%s", r.code, r.stderr)
	}

	// A shard missing, given twice, or mixed with a whole audit: exit 2,
	// naming it.
	for _, tt := range []struct {
		files []string
		want  string
	}{
		{[]string{files[0], files[2]}, "shard 1/3 is missing"},
		{[]string{files[0], files[1], files[1], files[2]}, "shard 1/3 is given 2 times"},
		{[]string{files[0], files[1], files[2], filepath.Join(dir, "whole.json")}, "whole.json is a whole audit"},
	} {
		r := mlaudit(t, "", append([]string{"merge"}, tt.files...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("merge %v: exit %d, want 2 saying %q\n%s", tt.files, r.code, tt.want, r.stderr)
		}
	}
}

// TestShardFromJobCompletionIndex: --shard /N takes the index from
// JOB_COMPLETION_INDEX, as a Kubernetes Indexed Job sets it; without it,
// or out of range, it is a usage error naming the variable.
func TestShardFromJobCompletionIndex(t *testing.T) {
	host := testregistry.InProcess(t, nil)
	seedStories(t, host)
	dir := t.TempDir()
	_, explicit := auditShard(t, host, filepath.Join(dir, "explicit.json"), nil, "--shard", "1/3")
	_, fromEnv := auditShard(t, host, filepath.Join(dir, "env.json"), []string{"JOB_COMPLETION_INDEX=1"}, "--shard", "/3")
	if fromEnv.Shard == nil || *fromEnv.Shard != (audit.Shard{Index: 1, Count: 3}) {
		t.Errorf("--shard /3 with JOB_COMPLETION_INDEX=1 records %v", fromEnv.Shard)
	}
	if got, want := imageList(fromEnv.Images), imageList(explicit.Images); !slices.Equal(got, want) {
		t.Errorf("--shard /3 with JOB_COMPLETION_INDEX=1 audited\n%v\n--shard 1/3\n%v", got, want)
	}
	for _, tt := range []struct {
		env   []string
		shard string
		want  string
	}{
		{nil, "/3", "JOB_COMPLETION_INDEX is not set"},
		{[]string{"JOB_COMPLETION_INDEX="}, "/3", "JOB_COMPLETION_INDEX is not set"},
		{[]string{"JOB_COMPLETION_INDEX=3"}, "/3", "JOB_COMPLETION_INDEX=3"},
		{[]string{"JOB_COMPLETION_INDEX=x"}, "/3", `index "x"`},
		{nil, "3/3", "must be below 3"},
		{nil, "3", "INDEX/COUNT"},
		{nil, "1/0", "at least 1"},
		{nil, "-1/3", `index "-1"`},
	} {
		r := runIn(t, dir, nil, tt.env, "audit", "--shard", tt.shard, host+"/")
		if r.code != 2 || !strings.Contains(r.stderr, "--shard") || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("--shard %s %v: exit %d, want 2 naming --shard and %q\n%s", tt.shard, tt.env, r.code, tt.want, r.stderr)
		}
	}
}

// TestMergeRefusesBadReports: a file that is not a report of this schema
// is exit 2 naming the file, never a panic.
func TestMergeRefusesBadReports(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range []struct {
		file string
		want string
	}{
		{write("garbage.json", "\x00\xff{{{"), "invalid character"},
		{write("table.json", "mlaudit: 3 images audited"), "invalid character"},
		{write("v2.json", `{"schemaVersion":2,"images":[]}`), "schemaVersion 2"},
		{write("other.json", `{"hello":"world"}`), "no schemaVersion"},
		{write("truncated.json", `{"schemaVersion":1,"images":[{"ref":"r.example.com/a:1"`), "unexpected EOF"},
		{write("badref.json", `{"schemaVersion":1,"images":[{"ref":"../../etc/passwd"}]}`), "passwd"},
		{filepath.Join(dir, "absent.json"), "no such file"},
		{dir, "a directory"},
	} {
		r := mlaudit(t, "", "merge", tt.file)
		if r.code != 2 || !strings.Contains(r.stderr, tt.file) || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("merge %s: exit %d, want 2 naming the file and %q\n%s", filepath.Base(tt.file), r.code, tt.want, r.stderr)
		}
	}
	if r := mlaudit(t, "", "merge"); r.code != 2 {
		t.Errorf("merge with no file: exit %d, want 2", r.code)
	}
	if r := mlaudit(t, "", "merge", "--format", "yaml", write("ok.json", `{"schemaVersion":1}`)); r.code != 2 || !strings.Contains(r.stderr, "yaml") {
		t.Errorf("merge --format yaml: exit %d\n%s", r.code, r.stderr)
	}
}

// TestKubernetesIndexedJobExample runs examples/kubernetes/indexed-job.yaml
// as Kubernetes would: each index's container arguments with the index in
// JOB_COMPLETION_INDEX and $(SHARD), then the merge Job's, against a test
// registry; the merge holds what one unsharded audit finds.
func TestKubernetesIndexedJobExample(t *testing.T) {
	raw, err := os.ReadFile(examples + "kubernetes/indexed-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "hostPath:") {
		t.Error("the example must not use hostPath (refused by the baseline Pod Security Standard)")
	}
	type job struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		Spec struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int    `yaml:"completions"`
			Parallelism    int    `yaml:"parallelism"`
			Template       struct {
				Spec struct {
					Containers []struct {
						Args []string `yaml:"args"`
						Env  []struct {
							Name      string `yaml:"name"`
							ValueFrom struct {
								FieldRef struct {
									FieldPath string `yaml:"fieldPath"`
								} `yaml:"fieldRef"`
							} `yaml:"valueFrom"`
						} `yaml:"env"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	var shards, merge *job
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var doc job
		if err := dec.Decode(&doc); err != nil {
			break
		}
		switch {
		case doc.Kind == "Job" && doc.Spec.CompletionMode == "Indexed":
			shards = &doc
		case doc.Kind == "Job":
			merge = &doc
		}
	}
	if shards == nil || merge == nil {
		t.Fatal("the example should hold an Indexed Job and a merge Job")
	}
	n := shards.Spec.Completions
	container := shards.Spec.Template.Spec.Containers[0]
	if n < 2 || shards.Spec.Parallelism < 1 || !slices.Contains(container.Args, "--shard=/"+strconv.Itoa(n)) {
		t.Fatalf("the Indexed Job should run %d completions with --shard=/%d: %+v", n, n, shards.Spec)
	}
	shardVar := false
	for _, e := range container.Env {
		shardVar = shardVar || e.Name == "SHARD" && e.ValueFrom.FieldRef.FieldPath == "metadata.annotations['batch.kubernetes.io/job-completion-index']"
	}
	if !shardVar {
		t.Error("$(SHARD) in the args needs SHARD in the container's env, from the completion index")
	}

	host := testregistry.InProcess(t, nil)
	seedStories(t, host)
	dir := t.TempDir()
	local := func(a string) string {
		a = strings.ReplaceAll(a, "registry.example.com", host)
		a = strings.ReplaceAll(a, "/reports/", filepath.Join(dir, "reports")+"/")
		return strings.Replace(a, "--cache-dir=/cache", "--cache-dir="+filepath.Join(dir, "cache"), 1)
	}
	if err := os.Mkdir(filepath.Join(dir, "reports"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		var args []string
		for _, a := range container.Args {
			args = append(args, strings.ReplaceAll(local(a), "$(SHARD)", strconv.Itoa(i)))
		}
		if r := runIn(t, dir, nil, []string{"JOB_COMPLETION_INDEX=" + strconv.Itoa(i)}, args...); r.code != 0 {
			t.Fatalf("index %d: exit %d (--fail-on=never keeps a shard green)\n%s", i, r.code, r.stderr)
		}
	}
	var args []string
	for _, a := range merge.Spec.Template.Spec.Containers[0].Args {
		args = append(args, local(a))
	}
	if len(args) != 3+n {
		t.Errorf("the merge Job should name the %d shards' files: %v", n, args)
	}
	wholeCode, whole := auditShard(t, host, filepath.Join(dir, "whole.json"), nil)
	r := mlaudit(t, "", args...)
	if r.code != wholeCode {
		t.Errorf("the merge Job: exit %d, one unsharded audit %d\n%s", r.code, wholeCode, r.stderr)
	}
	if html, err := os.ReadFile(filepath.Join(dir, "reports", "audit.html")); err != nil || !bytes.Contains(html, []byte("<html")) {
		t.Errorf("the merge Job wrote no HTML report: %v", err)
	}
	// The same files as JSON: the images of one unsharded audit.
	var asJSON []string
	for _, a := range args {
		switch {
		case a == "--format=html":
			asJSON = append(asJSON, "--format=json")
		case !strings.HasPrefix(a, "--output="):
			asJSON = append(asJSON, a)
		}
	}
	merged := decode(t, mlaudit(t, "", asJSON...).stdout)
	if got, want := imageList(merged.Images), imageList(whole.Images); !slices.Equal(got, want) {
		t.Errorf("the merged shards hold\n%s\none unsharded audit\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
